"""The quiet lane: sockets that carry only feedback are read in batches instead of waking the SFU.

A receive-only participant's connection brings the SFU nothing but feedback: an RTCP receiver
report per stream about once a second, now and then a NACK or a PLI, STUN consent checks. Each
such datagram used to wake the process on its own, and on these VMs a wake-up from idle costs the
process 0.1-0.2 ms of CPU, more than the report it carries: with 48 subscribers that was a third
of the SFU's CPU in a 1 -> 48 fan-out. The sockets of a connection that has received no RTP for a
while (see `media._aiortc.FastIngest`) leave the event loop's selector for the lane's own. The lane
is read when a media socket wakes the loop anyway (at most every `LANE_MIN_S`) and otherwise
after `LANE_MAX_S`, so a feedback datagram waits at most `LANE_MAX_S`, which NACK -> RTX, PLI and
ICE consent tolerate. The first RTP datagram a quiet socket brings moves it back at once.

Needs asyncio's selector event loop (its `_add_reader`/`_remove_reader`); elsewhere sockets stay
in the loop as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import weakref
from collections.abc import Callable
from typing import Any

LANE_MIN_S = 0.005
"A media wake-up reads the lane if it was last read at least this long ago."
LANE_MAX_S = 0.05
"The longest a feedback datagram waits when no media wakes the loop."


class QuietLane:
    """The quiet sockets of one event loop (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop: Any = loop
        self._selector = selectors.DefaultSelector()
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.drains = 0
        "How many times the lane was read (diagnostics)."

    def __len__(self) -> int:
        return len(self._selector.get_map())

    def holds(self, transport: Any) -> bool:
        key = self._key(transport)
        return key is not None and key.data[0] is transport

    def admit(
        self, transport: Any, read_here: Callable[[], None], read_in_loop: Callable[[], None]
    ) -> None:
        """Move a datagram transport's socket from the loop to the lane: the lane reads it with
        `read_here`, and gives it back to the loop with `read_in_loop` as its reader."""
        fd = transport._sock_fd
        if transport._conn_lost or fd < 0 or self.holds(transport):
            return
        stale = self._key(transport)
        if stale is not None:  # a closed socket's number, reused
            self._selector.unregister(fd)
        self._loop._remove_reader(fd)
        self._selector.register(fd, selectors.EVENT_READ, (transport, read_here, read_in_loop))
        if self._timer is None:
            self._arm(self._loop.time())

    def release(self, transport: Any) -> None:
        """Give a socket back to the event loop (or just forget it, once closed)."""
        if not self.holds(transport):
            return
        fd = transport._sock_fd
        key = self._selector.unregister(fd)
        if not transport._conn_lost:
            self._loop._add_reader(fd, key.data[2])
        if not len(self) and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def maybe_drain(self) -> None:
        """Called on every media wake-up: read the lane if it is due."""
        if self._timer is not None and self._loop.time() - self._last >= LANE_MIN_S:
            self.drain()

    def drain(self) -> None:
        now = self._loop.time()
        self._last = now  # first: a read below that calls maybe_drain returns at once
        self.drains += 1
        for key, _ in self._selector.select(0):
            transport, read_here, _ = key.data
            if transport._conn_lost:
                self._selector.unregister(key.fd)
                continue
            read_here()
        self._arm(now)

    def _arm(self, now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(now + LANE_MAX_S, self._on_timer) if len(self) else None

    def _on_timer(self) -> None:
        self._timer = None
        # no media woke the loop for a while: also forget sockets closed while quiet (the
        # kernel already dropped them from the selector, which still lists them)
        for key in list(self._selector.get_map().values()):
            if key.data[0]._conn_lost:
                self._selector.unregister(key.fd)
        self.drain()

    def _key(self, transport: Any) -> selectors.SelectorKey | None:
        with contextlib.suppress(KeyError, ValueError):
            return self._selector.get_key(transport._sock_fd)
        return None


_LANES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, QuietLane] = (
    weakref.WeakKeyDictionary()
)


def quiet_lane(loop: asyncio.AbstractEventLoop) -> QuietLane:
    """`loop`'s quiet lane."""
    found = _LANES.get(loop)
    if found is None:
        found = _LANES[loop] = QuietLane(loop)
    return found
