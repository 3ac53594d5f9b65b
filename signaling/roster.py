"""Who is in each consultation's room right now: seats, presence, admission, timers.

This is room-level state (shared by every socket of the consultation), so it lives here,
owned by the namespace; per-socket state stays in the Socket.IO session.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from media import Participant, TrackSource

from .messages import IceCandidate
from .ports import HoldReason, JoinGrant

Presence = Literal["online", "reconnecting"]
MAX_PENDING_CANDIDATES = 64


@dataclass(eq=False)
class Seat:
    """One participant in the room: the socket they use now and the state others see."""

    grant: JoinGrant
    sid: str | None
    presence: Presence = "online"
    admitted: bool = False
    hold_reason: HoldReason | None = None
    muted: dict[TrackSource, bool] = field(
        default_factory=lambda: {TrackSource.MICROPHONE: False, TrackSource.CAMERA: False}
    )
    screen_sharing: bool = False
    media: Participant | None = None
    "The live media connection, once its first negotiation succeeded."
    media_task: asyncio.Task[None] | None = None
    fresh_connection: bool = False
    "The next offer starts a new peer connection on the client (new_peer_connection)."
    pending_candidates: list[IceCandidate] = field(default_factory=list)
    "Trickled while the first negotiation is still being applied on the server."
    grace_timer: asyncio.TimerHandle | None = None
    ice_servers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def participant_id(self) -> str:
        return self.grant.participant_id

    def snapshot(self) -> dict[str, Any]:
        """The `Participant` object of the protocol."""
        return {
            "participant_id": self.grant.participant_id,
            "display_name": self.grant.display_name,
            "role": self.grant.role,
            "kind": self.grant.kind,
            "presence": self.presence,
            "admitted": self.admitted,
            "hold_reason": self.hold_reason,
            "muted": {source.value: muted for source, muted in self.muted.items()},
            "screen_sharing": self.screen_sharing,
        }

    def cancel_timers(self) -> None:
        if self.grace_timer is not None:
            self.grace_timer.cancel()
            self.grace_timer = None


@dataclass(eq=False)
class Roster:
    """The seats of one consultation's room."""

    consultation_id: str
    seats: dict[str, Seat] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    "Serialises joins, leaves, admissions and the end, so presence is never out of order."
    started: bool = False
    ended: bool = False
    empty_timer: asyncio.TimerHandle | None = None

    def professional_present(self) -> bool:
        return any(seat.grant.is_professional for seat in self.seats.values())

    def held(self) -> list[Seat]:
        return [seat for seat in self.seats.values() if not seat.admitted]

    def cancel_empty_timer(self) -> None:
        if self.empty_timer is not None:
            self.empty_timer.cancel()
            self.empty_timer = None
