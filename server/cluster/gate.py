"""ClusteredNamespace: the /consultation namespace that sends each join to the room's node."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from redis.exceptions import RedisError

from media import RoomId
from signaling import ConsultationNamespace

from .actions import REFRESH_ADMISSION, RoomActions
from .load import Level, LoadProbe
from .placement import Placement, ServerBusy

logger = logging.getLogger(__name__)

ROOM_ELSEWHERE = "room_elsewhere"
SERVER_DRAINING = "server_draining"
SERVER_BUSY = "server_busy"
MESSAGES = {
    ROOM_ELSEWHERE: "Esta consulta está em outro servidor. Conectando a ele…",
    SERVER_DRAINING: "Este servidor está sendo reiniciado. Conectando a outro…",
    SERVER_BUSY: "Servidor de vídeo sem capacidade no momento. Tente novamente em instantes.",
}


def refusal(code: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": MESSAGES[code], **extra}}


class ClusteredNamespace(ConsultationNamespace):
    """A join is served only by the process hosting the room's media (docs/PROTOCOL.md §2).

    The rest of the protocol is unchanged: once joined, every event of the socket is served by
    the node that holds the room, which is the only one with its roster and media.

    Load shedding (`load`): a saturated process takes no new room, and an overloaded one no new
    participant; the join is refused with `server_busy` and a retry delay. Anyone with a seat in
    a room hosted here (a reconnect) is always admitted: refusing them would drop a live call.
    """

    def __init__(
        self,
        placement: Placement,
        *args: Any,
        actions: RoomActions | None = None,
        load: LoadProbe | None = None,
        busy_retry_after_ms: int = 3000,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.placement = placement
        self.actions = actions
        self.load = load
        self.busy_retry_after_ms = busy_retry_after_ms
        self.refused_busy = {"room": 0, "participant": 0}
        "Joins refused with `server_busy`, by what they would have added here (metrics)."

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
        if event == "join" and args:
            redirect = await self._redirect(args[0], args[1:])
            if redirect is not None:
                return redirect
        return await super().trigger_event(event, *args)

    async def _redirect(self, sid: str, data: tuple[Any, ...]) -> dict[str, Any] | None:
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
        except ServerBusy:
            return self._busy("room", consultation_id)
        except (RedisError, OSError) as exc:
            # Serving the room here beats refusing it: at worst it is split for a while.
            logger.warning(
                "cluster: placing room %s failed (%s); serving here", consultation_id, exc
            )
            return None
        if not host.is_self:
            return refusal(ROOM_ELSEWHERE, redirect={"node_id": host.node_id, "url": host.url})
        return await self._shed(sid, consultation_id)

    async def _shed(self, sid: str, consultation_id: str) -> dict[str, Any] | None:
        """Refuse what this process has no capacity for (the room is placed here)."""
        level = Level.OK if self.load is None else self.load.level
        if level is Level.OK:
            return None
        hosted = consultation_id in self._rosters or self.rooms.get(RoomId(consultation_id))
        if not hosted:
            # Placed here a moment ago (or alone, without Redis): let the next join place it on
            # a node with headroom, if there is one.
            try:
                await self.placement.release(consultation_id)
            except (RedisError, OSError) as exc:
                logger.warning("cluster: releasing room %s failed: %s", consultation_id, exc)
            return self._busy("room", consultation_id)
        if level >= Level.OVERLOADED and not await self._has_seat(sid, consultation_id):
            return self._busy("participant", consultation_id)
        return None

    async def _has_seat(self, sid: str, consultation_id: str) -> bool:
        """Whether this socket's caller holds a seat in the room (reconnecting to it)."""
        try:
            session = await self.get_session(sid)
        except KeyError:
            return False
        identity = session.get("identity")
        roster = self._rosters.get(consultation_id)
        if identity is None or roster is None:
            return False
        # actor_id is the professional id, or the participant id of an invitee: the token's
        # subject either way, known before the database is asked to authorise the join.
        return any(
            identity.subject_id in (seat.grant.actor_id, seat.grant.participant_id)
            for seat in roster.seats.values()
        )

    def _busy(self, adds: str, consultation_id: str) -> dict[str, Any]:
        self.refused_busy[adds] += 1
        logger.info(
            "cluster: join of room %s refused, no media capacity (%s)", consultation_id, adds
        )
        return refusal(SERVER_BUSY, retry_after_ms=self.busy_retry_after_ms)
