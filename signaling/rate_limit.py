"""A token bucket per socket: bursts are fine, a sustained flood is refused."""

from __future__ import annotations

import time


class TokenBucket:
    """Allows `burst` events at once and `rate` per second sustained."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
