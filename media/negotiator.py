"""The port through which the media package reaches a client's browser for SDP exchanges."""

from __future__ import annotations

from typing import Protocol

from .ids import ParticipantId, RoomId
from .offer import Offer


class Negotiator(Protocol):
    """Carries a server offer to one participant's client and brings back its answer.

    The signaling layer implements it (a Socket.IO `call` with an ack); tests implement it
    with an in-process aiortc client. The media package calls it at most once at a time
    per participant and bounds it with `MediaConfig.negotiation_timeout_s`.
    """

    async def exchange(self, room_id: RoomId, participant_id: ParticipantId, offer: Offer) -> str:
        """Deliver `offer` and return the client's answer SDP. Raise to fail the round."""
        ...
