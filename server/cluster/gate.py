"""ClusteredNamespace: the /consultation namespace that sends each join to the room's node."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from redis.exceptions import RedisError

from signaling import ConsultationNamespace

from .actions import REFRESH_ADMISSION, RoomActions
from .placement import Placement

logger = logging.getLogger(__name__)

ROOM_ELSEWHERE = "room_elsewhere"
SERVER_DRAINING = "server_draining"
MESSAGES = {
    ROOM_ELSEWHERE: "Esta consulta está em outro servidor. Conectando a ele…",
    SERVER_DRAINING: "Este servidor está sendo reiniciado. Conectando a outro…",
}


def refusal(code: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": MESSAGES[code], **extra}}


class ClusteredNamespace(ConsultationNamespace):
    """A join is served only by the process hosting the room's media (docs/PROTOCOL.md §2).

    The rest of the protocol is unchanged: once joined, every event of the socket is served by
    the node that holds the room, which is the only one with its roster and media.
    """

    def __init__(
        self, placement: Placement, *args: Any, actions: RoomActions | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.placement = placement
        self.actions = actions

    async def refresh_admission(self, consultation_id: str) -> None:
        """Re-check the room's seats here, and on the node hosting it if that is another one.

        The REST API calls this after recording a consent decision; the balancer may have sent
        that request to a process that does not host the room.
        """
        await super().refresh_admission(consultation_id)
        if self.actions is None:
            return
        try:
            await self.actions.publish(REFRESH_ADMISSION, consultation_id)
        except (RedisError, OSError) as exc:
            # The decision is recorded; a held patient is admitted at their next join or admit.
            logger.warning(
                "cluster: could not forward a re-check of room %s: %s", consultation_id, exc
            )

    async def apply_room_action(self, action: str, consultation_id: str) -> None:
        """Run an action another node published (only a room hosted here has a roster)."""
        if action == REFRESH_ADMISSION:
            await super().refresh_admission(consultation_id)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "join":
            redirect = await self._redirect(args[1:])
            if redirect is not None:
                return redirect
        return await super().trigger_event(event, *args)

    async def _redirect(self, data: tuple[Any, ...]) -> dict[str, Any] | None:
        if self.placement.draining:
            return refusal(SERVER_DRAINING)
        payload = data[0] if len(data) == 1 else None
        raw = payload.get("consultation_id") if isinstance(payload, dict) else None
        try:
            consultation_id = str(uuid.UUID(str(raw)))
        except ValueError:
            return None  # the namespace answers invalid payloads itself
        try:
            host = await self.placement.locate(consultation_id)
        except (RedisError, OSError) as exc:
            # Serving the room here beats refusing it: at worst it is split for a while.
            logger.warning(
                "cluster: placing room %s failed (%s); serving here", consultation_id, exc
            )
            return None
        if host.is_self:
            return None
        return refusal(ROOM_ELSEWHERE, redirect={"node_id": host.node_id, "url": host.url})
