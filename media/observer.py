"""What the media package tells the outside world about a room, without importing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .ids import CloseReason, ParticipantId, RoomId, TrackKind, TrackSource


@dataclass(frozen=True)
class TrackInfo:
    """A published track, as presence and monitoring code see it."""

    publisher_id: ParticipantId
    source: TrackSource
    kind: TrackKind
    mid: str
    "The MID of the publisher's own m-line (the publish slot) this track arrives on."
    muted: bool = False


class RoomObserver(Protocol):
    """Listener for room life-cycle events (LiveKit's ParticipantListener, mediasoup's observer).

    Called from the room's task after the change took effect; an exception raised here is
    logged and swallowed, so an observer can never break a room.
    """

    async def participant_joined(self, room_id: RoomId, participant_id: ParticipantId) -> None: ...

    async def participant_left(
        self, room_id: RoomId, participant_id: ParticipantId, reason: CloseReason
    ) -> None: ...

    async def track_published(self, room_id: RoomId, track: TrackInfo) -> None: ...

    async def track_unpublished(
        self, room_id: RoomId, track: TrackInfo, reason: CloseReason
    ) -> None: ...

    async def track_muted(self, room_id: RoomId, track: TrackInfo) -> None:
        """`track.muted` says whether it was muted or unmuted."""
        ...

    async def room_closed(self, room_id: RoomId, reason: CloseReason) -> None: ...


class NullObserver:
    """A RoomObserver that ignores everything."""

    async def participant_joined(self, room_id: RoomId, participant_id: ParticipantId) -> None:
        pass

    async def participant_left(
        self, room_id: RoomId, participant_id: ParticipantId, reason: CloseReason
    ) -> None:
        pass

    async def track_published(self, room_id: RoomId, track: TrackInfo) -> None:
        pass

    async def track_unpublished(
        self, room_id: RoomId, track: TrackInfo, reason: CloseReason
    ) -> None:
        pass

    async def track_muted(self, room_id: RoomId, track: TrackInfo) -> None:
        pass

    async def room_closed(self, room_id: RoomId, reason: CloseReason) -> None:
        pass
