"""Graceful shutdown: stop taking joins, tell the connected clients, then close the rooms."""

from __future__ import annotations

import asyncio
import logging
import time

import socketio

from media import CloseReason
from signaling import NAMESPACE, ConsultationNamespace

from .placement import Placement

logger = logging.getLogger(__name__)

DRAINING_EVENT = "server_draining"
DRAINING_MESSAGE = "Este servidor está sendo reiniciado. Reconectando a outro…"


def local_sockets(sio: socketio.AsyncServer) -> list[str]:
    """The sids connected to this process on /consultation (the Redis manager knows only those)."""
    return [sid for sid, _ in sio.manager.get_participants(NAMESPACE, None)]


async def drain(
    sio: socketio.AsyncServer,
    namespace: ConsultationNamespace | None,
    placement: Placement,
    timeout_s: float,
) -> int:
    """Drain this process; returns how many sockets were still connected when time ran out.

    Order matters: placement first, so that a client told to rejoin cannot be placed here again;
    then the notice; the rooms close last, when their clients have gone or the time is up.
    """
    await placement.drain()
    sids = local_sockets(sio)
    logger.info("cluster: draining, %d socket(s) told to reconnect elsewhere", len(sids))
    notice = {"reason": "shutdown", "message": DRAINING_MESSAGE, "retry_after_ms": 500}
    for sid in sids:
        # Local delivery only: a broadcast through Redis would reach other nodes' clients too.
        await sio.emit(DRAINING_EVENT, notice, to=sid, namespace=NAMESPACE, ignore_queue=True)
    deadline = time.monotonic() + timeout_s
    while local_sockets(sio) and time.monotonic() < deadline:  # noqa: ASYNC110 (no event for it)
        await asyncio.sleep(0.05)
    remaining = len(local_sockets(sio))
    if namespace is not None:
        await namespace.rooms.close_all(CloseReason.SERVER_SHUTDOWN)
    logger.info("cluster: drained, %d socket(s) still connected", remaining)
    return remaining
