"""The per-socket token bucket."""

from __future__ import annotations

import time

from signaling.rate_limit import TokenBucket


def test_a_burst_is_allowed_and_the_next_event_is_refused() -> None:
    bucket = TokenBucket(rate=1, burst=5)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]


def test_the_bucket_refills_at_the_sustained_rate() -> None:
    bucket = TokenBucket(rate=50, burst=1)
    assert bucket.take() and not bucket.take()
    time.sleep(0.05)  # 50/s: one token is back after 20 ms
    assert bucket.take()
