"""Socket.IO packets written straight to the WebSocket; room broadcasts encoded once.

python-engineio sends every packet through a per-socket queue and writer task: ``send`` puts the
packet in the queue, the writer wakes up (a ``wait_for`` with its own task and timer per
wake-up) and writes it; ``AsyncServer.emit`` adds a task per recipient on top. A chat message
costs one ack and four deliveries, and that machinery was the largest share of the server's CPU
per message. Here:

- each engine.io socket on a WebSocket gets a ``send`` that, when nothing is waiting in its
  queue, writes the frame to the transport at once (no task, no queue, no wake-up); otherwise
  it queues as before, so the packets of a socket always leave in the order they were sent;
- ``Fanout.emit`` builds the bytes of one WebSocket frame for a room broadcast (server frames
  are unmasked, so the bytes are the same for every recipient) and writes them to each idle
  recipient; the others get the same packet through their queue.

This reaches into python-engineio in one place, ``Fanout.install``, which checks at start-up
that the internals are what this module expects and raises otherwise: the server's websocket
driver class is wrapped so that each socket knows its transport, and that socket's ``send`` is
replaced on the instance. Sockets on long-polling (or mid-upgrade) are left alone, and a server
whose client manager is not the in-process one (the Redis manager of a cluster, where an event
must reach other processes) broadcasts with the library's ``emit`` (its deliveries still use
the direct ``send``).

A frame written directly bypasses aiohttp's permessage-deflate: an uncompressed message is
valid on a compressed connection (RFC 7692 §6), only larger. A recipient that does not read
(more than ``MAX_BUFFERED_BYTES`` waiting in its transport) is disconnected rather than buffered
without bound; it catches up by message id when it reconnects.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet

logger = logging.getLogger(__name__)

MAX_BUFFERED_BYTES = 1 << 20

_TEXT_FIN = 0x81
_ENGINEIO_SOCKET_NEEDS = ("send", "check_ping_timeout", "_websocket_handler", "close")


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


class DirectSocket:
    """One engine.io socket on a WebSocket: writes at once when its queue is idle."""

    def __init__(self, eio_socket: Any, transport: Any, stats: Fanout) -> None:
        self._socket = eio_socket
        self._transport = transport
        self._queued_send: Callable[[Any], Awaitable[None]] = eio_socket.send
        self._stats = stats
        self.queued = 0
        "Packets handed to engine.io's queue and not yet written by its writer task."

    def idle(self) -> bool:
        """Nothing of this socket waits in (or is being taken out of) engine.io's queue."""
        eio_socket = self._socket
        return (
            self.queued == 0
            and eio_socket.queue.empty()
            and eio_socket.upgraded
            and not eio_socket.upgrading
            and not eio_socket.closed
            and not self._transport.is_closing()
        )

    def write(self, frame: bytes) -> None:
        if self._transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            logger.warning("a socket stopped reading (over %d bytes waiting): disconnected",
                           MAX_BUFFERED_BYTES)  # fmt: skip
            self._transport.abort()
            return
        self._transport.write(frame)
        self._stats.direct += 1

    async def send(self, pkt: Any) -> None:
        """engine.io's ``AsyncSocket.send``, without the queue when the socket is idle."""
        # Pings go through the queue: engine.io's writer task closes the WebSocket when its
        # queue stays empty for ping_interval + ping_timeout (45 s), so a socket whose packets
        # all went direct was dropped 45 s after its last queued one, however healthy.
        if pkt.binary or pkt.packet_type == eio_packet.PING or not self.idle():
            self.queued += 1
            self._stats.queued += 1
            await self._queued_send(pkt)
            return
        if not await self._socket.check_ping_timeout():
            return  # the peer stopped answering pings: engine.io is closing the socket
        self.write(websocket_text_frame(pkt.encode().encode()))

    def written_by_queue(self) -> None:
        """engine.io's writer task wrote one packet of the queue."""
        if self.queued:
            self.queued -= 1


class Fanout:
    """Direct writes and room broadcasts for one ``socketio.AsyncServer`` (``install`` once)."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio
        self._sockets: dict[str, DirectSocket] = {}
        "engine.io sid → its direct writer, while its WebSocket is open."
        self.direct = 0
        "Frames written directly (for tests and metrics)."
        self.queued = 0
        "Packets that went through engine.io's queue instead."

    @classmethod
    def install(cls, sio: socketio.AsyncServer) -> Fanout:
        fanout = cls(sio)
        eio: Any = sio.eio
        drivers = getattr(eio, "_async", None)
        missing = [name for name in _ENGINEIO_SOCKET_NEEDS if not hasattr(AsyncSocket, name)]
        if missing or not isinstance(drivers, dict) or not isinstance(eio.sockets, dict):
            raise RuntimeError("python-engineio internals changed: review server/chat/fanout.py")
        base = drivers.get("websocket")
        if not isinstance(base, type) or not hasattr(base, "send"):
            raise RuntimeError("python-engineio has no websocket driver class: review fanout.py")
        sockets = fanout._sockets

        class TrackedWebSocket(base):  # type: ignore[misc,valid-type]
            """engine.io's aiohttp WebSocket, giving its socket a direct ``send``."""

            def __init__(self, handler: Callable[[Any], Awaitable[None]], server: Any) -> None:
                # engine.io passes its socket's bound ``_websocket_handler``.
                eio_socket = getattr(handler, "__self__", None)
                self._direct: DirectSocket | None = None

                async def tracked(ws: Any) -> None:
                    # Called once the WebSocket is prepared (the 101 sent), with ``environ``.
                    request = ws.environ.get("aiohttp.request")
                    transport = None if request is None else request.transport
                    if not isinstance(eio_socket, AsyncSocket) or transport is None:
                        await handler(ws)
                        return
                    direct = self._direct = DirectSocket(eio_socket, transport, fanout)
                    sockets[eio_socket.sid] = direct
                    eio_socket.send = direct.send
                    try:
                        await handler(ws)
                    finally:
                        sockets.pop(eio_socket.sid, None)

                super().__init__(tracked, server)

            async def send(self, message: Any) -> None:
                # Only engine.io's writer task calls this: a queued packet is going out.
                await super().send(message)
                if self._direct is not None:
                    self._direct.written_by_queue()

        eio._async = {**drivers, "websocket": TrackedWebSocket}
        return fanout

    def frame_text(self, event: str, data: Any, namespace: str) -> str:
        """The engine.io text ``emit`` would send for this event.

        Written out rather than built with ``packet_class``, whose constructor walks the whole
        payload looking for bytes (a JSON body has none; ``json.dumps`` refuses bytes anyway):
        engine.io MESSAGE, socket.io EVENT, namespace, JSON with the library's separators.
        """
        json = self._sio.packet_class.json
        prefix = f"{eio_packet.MESSAGE}{sio_packet.EVENT}"
        if namespace != "/":
            prefix += namespace + ","
        body: str = json.dumps([event, data], separators=(",", ":"))
        return prefix + body

    async def emit(
        self, event: str, data: Any, namespace: str, room: str, skip_sid: str | None = None
    ) -> None:
        """Send ``event`` to every socket in ``room`` but ``skip_sid``, in the order of calls
        for each socket."""
        sio = self._sio
        manager = sio.manager
        if type(manager) is not socketio.AsyncManager:
            # A cluster's manager publishes to the other processes: its emit is the only way.
            await sio.emit(event, data, room=room, skip_sid=skip_sid, namespace=namespace)
            return
        text = self.frame_text(event, data, namespace)
        frame = websocket_text_frame(text.encode())
        later: list[str] = []
        for sid, eio_sid in manager.get_participants(namespace, room):
            if sid == skip_sid:
                continue
            direct = self._sockets.get(eio_sid)
            if direct is not None and direct.idle():
                direct.write(frame)
            else:
                later.append(eio_sid)
        if later:
            # engine.io text packet: its text is the socket.io packet after the "4".
            pkt = eio_packet.Packet(eio_packet.MESSAGE, text[1:])
            for eio_sid in later:
                await sio.eio.send_packet(eio_sid, pkt)
