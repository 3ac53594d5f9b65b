"""RoomRegistry: every room hosted by this process."""

from __future__ import annotations

import types
from collections.abc import Mapping

from ._aiortc import ensure_supported_aiortc
from .config import MediaConfig
from .ids import CloseReason, RoomId
from .negotiator import Negotiator
from .observer import NullObserver, RoomObserver
from .room import Room
from .stats import MediaStats


class RoomRegistry:
    """All rooms of this process. Checks at construction that aiortc is the supported one."""

    def __init__(
        self,
        config: MediaConfig,
        observer: RoomObserver | None = None,
        negotiator: Negotiator | None = None,
    ) -> None:
        ensure_supported_aiortc()
        self.config = config
        self._observer = observer or NullObserver()
        self._negotiator = negotiator
        self._rooms: dict[RoomId, Room] = {}

    @property
    def rooms(self) -> Mapping[RoomId, Room]:
        return types.MappingProxyType(self._rooms)

    def get(self, room_id: RoomId) -> Room | None:
        return self._rooms.get(room_id)

    def get_or_create(self, room_id: RoomId) -> Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = Room(
                room_id, self.config, self._observer, self._negotiator, self._forget
            )
        return room

    async def close(self, room_id: RoomId, reason: CloseReason) -> None:
        room = self._rooms.get(room_id)
        if room is not None:
            await room.close(reason)

    async def close_all(self, reason: CloseReason = CloseReason.SERVER_SHUTDOWN) -> None:
        for room in list(self._rooms.values()):
            await room.close(reason)

    def stats(self) -> dict[str, MediaStats]:
        """Per room id, plus "total"."""
        result: dict[str, MediaStats] = {
            room_id: room.stats() for room_id, room in self._rooms.items()
        }
        total = MediaStats()
        for s in result.values():
            total.add(s)
        result["total"] = total
        return result

    def _forget(self, room: Room) -> None:
        if self._rooms.get(room.id) is room:
            del self._rooms[room.id]
