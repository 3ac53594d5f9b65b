"""Broadcast a Socket.IO event to a room: encoded once, the same WebSocket frame to everyone.

``AsyncServer.emit`` encodes the packet once, but then, per recipient, starts a task that goes
through engine.io's per-socket queue and writer task (a ``wait_for`` with its own task and timer
per wake-up) to its own ``send()``. At four deliveries per chat message this was the largest
share of the server's CPU per message. ``Fanout.emit`` builds the bytes of one WebSocket frame
(server frames are unmasked, so they are identical for every recipient) and hands them to each
recipient's transport: no task, no queue, one ``write`` each.

This reaches into python-engineio in one place, checked by ``Fanout.install`` at start-up (it
raises if the internals are not what this module expects): the server's websocket driver is
wrapped so that each engine.io socket on a WebSocket is known with its transport. Everything
else falls back to the library's own path: a socket still on long-polling (or mid-upgrade) gets
the event through ``emit(to=sid)``, and a server whose client manager is not the in-process one
(the Redis manager of a cluster, where the event must reach other processes) uses ``emit`` for
the whole room.

Order: a frame is written synchronously, so broadcasts reach each socket in the order they were
made; the chat makes them in commit order, so a socket sees message ids only grow (catch-up by
"after the last id seen" relies on it). A frame may overtake a packet still in that socket's
engine.io queue (an ack, a receipt): clients key messages by id, nothing depends on that order.

A recipient that does not read (more than ``MAX_BUFFERED_BYTES`` waiting in its transport) is
disconnected rather than buffered without bound; it catches up by id when it reconnects.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

logger = logging.getLogger(__name__)

MAX_BUFFERED_BYTES = 1 << 20

_TEXT_FIN = 0x81


def websocket_text_frame(payload: bytes) -> bytes:
    """One final, unmasked WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _TEXT_FIN, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", _TEXT_FIN, 126, size)
    else:
        header = struct.pack("!BBQ", _TEXT_FIN, 127, size)
    return header + payload


class Fanout:
    """Room broadcasts for one ``socketio.AsyncServer`` (``install`` once, at start-up)."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio
        self._transports: dict[str, Any] = {}
        "engine.io sid → the transport of its WebSocket, while the WebSocket is open."
        self.direct = 0
        "Frames written directly (for tests and metrics)."
        self.fallback = 0
        "Deliveries left to the library's path."

    @classmethod
    def install(cls, sio: socketio.AsyncServer) -> Fanout:
        fanout = cls(sio)
        eio: Any = sio.eio
        drivers = getattr(eio, "_async", None)
        if not isinstance(drivers, dict) or not isinstance(getattr(eio, "sockets", None), dict):
            raise RuntimeError("python-engineio internals changed: review server/chat/fanout.py")
        base = drivers.get("websocket")
        if not isinstance(base, type):
            raise RuntimeError("python-engineio has no websocket driver class: review fanout.py")
        transports = fanout._transports

        class TrackedWebSocket(base):  # type: ignore[misc,valid-type]
            """engine.io's aiohttp WebSocket that records the transport of its socket."""

            def __init__(self, handler: Callable[[Any], Awaitable[None]], server: Any) -> None:
                # engine.io passes its socket's bound ``_websocket_handler``.
                eio_socket = getattr(handler, "__self__", None)

                async def tracked(ws: Any) -> None:
                    # Called once the WebSocket is prepared (the 101 sent), with ``environ``.
                    request = ws.environ.get("aiohttp.request")
                    sid = getattr(eio_socket, "sid", None)
                    if sid is not None and request is not None and request.transport is not None:
                        transports[sid] = request.transport
                    try:
                        await handler(ws)
                    finally:
                        if sid is not None:
                            transports.pop(sid, None)

                super().__init__(tracked, server)

        eio._async = {**drivers, "websocket": TrackedWebSocket}
        return fanout

    def _direct_transport(self, eio_sid: str) -> Any:
        transport = self._transports.get(eio_sid)
        if transport is None or transport.is_closing():
            return None
        eio_socket: Any = self._sio.eio.sockets.get(eio_sid)
        # Upgraded and settled: a socket mid-upgrade still delivers through long-polling.
        if eio_socket is None or not eio_socket.upgraded or eio_socket.upgrading:
            return None
        if eio_socket.closed:
            return None
        return transport

    def frame(self, event: str, data: Any, namespace: str) -> bytes:
        """The WebSocket frame ``emit`` would send for this event (one encoding for all)."""
        packet = self._sio.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, data])
        encoded = packet.encode()
        if not isinstance(encoded, str):  # binary payloads are not sent this way
            raise TypeError("fanout events must be JSON (no binary attachments)")
        return websocket_text_frame(
            eio_packet.Packet(eio_packet.MESSAGE, encoded).encode().encode()
        )

    async def emit(
        self, event: str, data: Any, namespace: str, room: str, skip_sid: str | None = None
    ) -> int:
        """Send ``event`` to every socket in ``room`` but ``skip_sid``; return how many got it
        written directly (the rest went through the library)."""
        sio = self._sio
        manager = sio.manager
        if type(manager) is not socketio.AsyncManager:
            # A cluster's manager publishes to the other processes: its emit is the only way.
            await sio.emit(event, data, room=room, skip_sid=skip_sid, namespace=namespace)
            return 0
        frame = self.frame(event, data, namespace)
        slow: list[Any] = []
        later: list[str] = []
        direct = 0
        for sid, eio_sid in manager.get_participants(namespace, room):
            if sid == skip_sid:
                continue
            transport = self._direct_transport(eio_sid)
            if transport is None:
                later.append(sid)
            elif transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
                slow.append(transport)
            else:
                transport.write(frame)
                direct += 1
        self.direct += direct
        for transport in slow:
            logger.warning("a socket stopped reading (over %d bytes waiting): disconnected",
                           MAX_BUFFERED_BYTES)  # fmt: skip
            transport.abort()
        for sid in later:
            self.fallback += 1
            await sio.emit(event, data, to=sid, namespace=namespace)
        return direct
