"""Deployment settings of the SFU."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aiortc import RTCIceServer

VideoCodec = Literal["VP8", "H264"]


@dataclass
class MediaConfig:
    """How rooms negotiate and forward media. One codec per deployment, hence per room."""

    video_codec: VideoCodec = "VP8"
    "VP8 (every browser) or H264 (constrained baseline 42e01f, packetization-mode 1)."
    ice_servers: list[RTCIceServer] = field(default_factory=list)
    "STUN/TURN servers the server side uses to gather its own candidates."
    host_addresses: list[str] | None = None
    """Local addresses ICE binds to and announces; None lets aioice list the interfaces
    (which skips loopback). Loopback deployments and tests pass ["127.0.0.1"]."""
    empty_room_timeout_s: float = 30.0
    "A room nobody is in closes after this many seconds (reason empty_timeout)."
    pli_min_interval_s: float = 0.5
    "At most one keyframe request (PLI) per publication per interval."
    negotiation_timeout_s: float = 10.0
    "How long a client gets to answer a server offer before the round fails."

    def __post_init__(self) -> None:
        if self.video_codec not in ("VP8", "H264"):
            raise ValueError(f"video_codec must be 'VP8' or 'H264', not {self.video_codec!r}")
        if self.empty_room_timeout_s < 0:
            raise ValueError("empty_room_timeout_s must be >= 0")
        if self.pli_min_interval_s < 0:
            raise ValueError("pli_min_interval_s must be >= 0")
        if self.negotiation_timeout_s <= 0:
            raise ValueError("negotiation_timeout_s must be > 0")
