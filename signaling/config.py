"""Tunables of the signaling layer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignalingConfig:
    """Timers and limits of the /consultation namespace."""

    reconnect_grace_s: float = 30.0
    "A socket that drops without `leave` keeps its seat (presence reconnecting) this long."
    empty_end_timeout_s: float = 30.0
    "A started consultation whose room stays empty this long ends (reason `empty`)."
    negotiation_timeout_s: float = 10.0
    "How long a client gets to ack a server `offer` with its answer."
    events_per_second: float = 20.0
    "Sustained event rate allowed per socket; beyond it events get `rate_limited`."
    event_burst: int = 40
    max_token_chars: int = 4096

    def __post_init__(self) -> None:
        if min(self.reconnect_grace_s, self.empty_end_timeout_s) < 0:
            raise ValueError("timeouts must be >= 0")
        if self.negotiation_timeout_s <= 0 or self.events_per_second <= 0 or self.event_burst < 1:
            raise ValueError("negotiation timeout, event rate and burst must be positive")
