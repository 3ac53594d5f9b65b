"""The media layer's RoomObserver: turns media life-cycle events into presence."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from media import CloseReason, ParticipantId, RoomId, TrackInfo, TrackSource

if TYPE_CHECKING:
    from .namespace import ConsultationNamespace

logger = logging.getLogger(__name__)


class PresenceObserver:
    """Tells the room when a participant's media failed or a screen share ended on its own."""

    def __init__(self, namespace: ConsultationNamespace) -> None:
        self._namespace = namespace

    async def participant_joined(self, room_id: RoomId, participant_id: ParticipantId) -> None:
        pass

    async def participant_left(
        self, room_id: RoomId, participant_id: ParticipantId, reason: CloseReason
    ) -> None:
        if reason is CloseReason.REPLACED:
            return  # a newer connection of the same participant took over: nothing changed
        await self._namespace.media_closed(room_id, participant_id, reason)

    async def track_published(self, room_id: RoomId, track: TrackInfo) -> None:
        logger.debug("room %s: %s published %s", room_id, track.publisher_id, track.source)

    async def track_unpublished(
        self, room_id: RoomId, track: TrackInfo, reason: CloseReason
    ) -> None:
        if track.source is TrackSource.SCREEN:
            await self._namespace.screen_share_ended(room_id, track.publisher_id)

    async def track_muted(self, room_id: RoomId, track: TrackInfo) -> None:
        pass

    async def room_closed(self, room_id: RoomId, reason: CloseReason) -> None:
        logger.info("room %s: media room closed (%s)", room_id, reason)
