"""One event-loop timer for many periodic jobs (sender reports, ICE consent checks).

Every subscriber leg sends an RTCP sender report about once a second and every ICE connection
checks consent about every 5 s. With a timer each (aiortc's and aioice's way), N connections wake
the process about 1.4 N times a second at random moments, and a wake-up from idle (epoll return,
context switch, cold caches) costs more than the report it sends: 48 idle subscriber connections
cost the SFU 0.7 ms of CPU each per second. Here each job keeps its own jittered deadline, but due
jobs run on a shared grid of ticks, so whatever is due in the same tick runs in one wake-up, and
the timer sleeps until the earliest tick that has work.
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

TICK_S = 0.25
"Grid of the shared timer: a job runs at the first tick at or after its deadline."


@dataclass(eq=False)
class Periodic:
    """A job: `run(now)` is called at the first tick at or after `due` (loop time) and returns
    its next deadline, or None to stop."""

    run: Callable[[float], float | None]
    due: float


class Ticker:
    """The shared timer of one event loop (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._jobs: set[Periodic] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = math.inf

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: Periodic) -> None:
        self._jobs.add(job)
        self._arm(job.due)

    def discard(self, job: Periodic) -> None:
        self._jobs.discard(job)
        if not self._jobs and self._handle is not None:
            self._handle.cancel()
            self._handle, self._armed_for = None, math.inf

    def _arm(self, due: float) -> None:
        tick = math.ceil(due / TICK_S) * TICK_S
        if tick >= self._armed_for:
            return  # an earlier tick is already set; it re-arms for the rest
        if self._handle is not None:
            self._handle.cancel()
        self._armed_for = tick
        self._handle = self._loop.call_at(tick, self._tick)

    def _tick(self) -> None:
        self._handle, self._armed_for = None, math.inf
        now = self._loop.time()
        # a job due within half a tick runs now: the timer fires a little early or late
        horizon = now + TICK_S / 2
        earliest = math.inf
        for job in list(self._jobs):
            if job not in self._jobs:
                continue  # discarded by a job that ran before it
            if job.due <= horizon:
                try:
                    following = job.run(now)
                except Exception:  # one broken job must not stop the others
                    logger.exception("periodic job %r failed; it is stopped", job.run)
                    following = None
                if following is None:
                    self._jobs.discard(job)
                    continue
                job.due = following
            earliest = min(earliest, job.due)
        if self._jobs and earliest < math.inf:
            self._arm(max(earliest, now + TICK_S / 2))


_TICKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Ticker] = weakref.WeakKeyDictionary()


def ticker() -> Ticker:
    """The running loop's shared timer."""
    loop = asyncio.get_running_loop()
    found = _TICKERS.get(loop)
    if found is None:
        found = _TICKERS[loop] = Ticker(loop)
    return found
