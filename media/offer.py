"""A server SDP offer together with the slot map that tells the client what each m-line is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .ids import ParticipantId, TrackKind, TrackSource

SlotDirection = Literal["publish", "subscribe"]


@dataclass(frozen=True)
class Slot:
    """One m-line of the offer, seen from the client.

    `publish`: the client attaches its own track of `source` here (browser: set the
    transceiver's direction to "sendonly" and `sender.replaceTrack(track)`), or leaves it
    inactive while it has no such track.
    `subscribe`: the server sends `publisher_id`'s `source` here; an idle subscribe slot
    (both None) carries nothing until the server reuses it in a later offer.
    """

    mid: str
    "The m-line's MID, which is also the transceiver's `mid` in the browser."
    kind: TrackKind
    direction: SlotDirection
    source: TrackSource | None
    "publish: what to attach; subscribe: what the remote participant publishes here."
    publisher_id: ParticipantId | None = None
    "subscribe only: whose media arrives here."

    def __post_init__(self) -> None:
        if self.direction == "publish" and (self.source is None or self.publisher_id is not None):
            raise ValueError("a publish slot names a source and no publisher")
        if (self.publisher_id is None) != (self.source is None) and self.direction == "subscribe":
            raise ValueError("a subscribe slot names both publisher and source, or neither")

    def as_dict(self) -> dict[str, Any]:
        return {
            "mid": self.mid,
            "kind": self.kind.value,
            "direction": self.direction,
            "source": None if self.source is None else self.source.value,
            "publisher_id": self.publisher_id,
        }


@dataclass(frozen=True)
class Offer:
    """An SDP offer from the server to one participant. The server is the only offerer."""

    sdp: str
    slots: list[Slot] = field(default_factory=list)
    "One entry per audio/video m-line, in m-line order."

    def slot(self, mid: str) -> Slot | None:
        return next((s for s in self.slots if s.mid == mid), None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: {"type": "offer", "sdp": ..., "slots": [...]}."""
        return {"type": "offer", "sdp": self.sdp, "slots": [s.as_dict() for s in self.slots]}
