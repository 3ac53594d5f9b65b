"""One event-loop timer for many periodic jobs (sender reports, ICE consent checks).

Every subscriber leg sends an RTCP sender report about once a second and every ICE connection
checks consent about every 5 s. With a timer each (aiortc's and aioice's way), N connections wake
the process about 1.4 N times a second at random moments, and a wake-up from idle (epoll return,
context switch, cold caches) costs more than the report it sends: 48 idle subscriber connections
cost the SFU 0.7 ms of CPU each per second. Here each job keeps its own jittered deadline, but due
jobs run on a shared grid of ticks, so whatever is due in the same tick runs in one wake-up, and
the timer sleeps until the earliest tick that has work. While media flows, the loop is awake ~30
times a second anyway: `maybe_run` (called after each media socket read) runs what is due then,
and the timer itself seldom fires.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
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
        # (due, order, job), earliest first; an entry whose job was discarded or whose due
        # moved is stale and dropped when it comes up
        self._heap: list[tuple[float, int, Periodic]] = []
        self._order = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = math.inf

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: Periodic) -> None:
        self._jobs.add(job)
        heapq.heappush(self._heap, (job.due, next(self._order), job))
        self._arm(job.due)

    def discard(self, job: Periodic) -> None:
        self._jobs.discard(job)
        if not self._jobs:
            self._heap.clear()
            self._set_timer(math.inf)

    def maybe_run(self) -> None:
        """Called when the loop is awake anyway (a media socket was read): run what is due,
        so that the timer itself seldom has to wake the process."""
        heap = self._heap
        if heap:
            now = self._loop.time()
            if heap[0][0] <= now:
                self._run_due(now)

    def _arm(self, due: float) -> None:
        tick = math.ceil(due / TICK_S) * TICK_S
        if tick < self._armed_for:  # else an earlier tick is set; it re-arms for the rest
            self._set_timer(tick)

    def _set_timer(self, tick: float) -> None:
        """The timer fires at `tick` (loop time, on the grid), or never for math.inf."""
        if tick == self._armed_for:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._armed_for = tick
        self._handle = None if tick == math.inf else self._loop.call_at(tick, self._tick)

    def _tick(self) -> None:
        self._handle, self._armed_for = None, math.inf
        self._run_due(self._loop.time())

    def _run_due(self, now: float) -> None:
        # a job due within half a tick runs now: the timer fires a little early or late, and
        # jobs run together cost one pass over warm code
        horizon = now + TICK_S / 2
        heap, jobs = self._heap, self._jobs
        while heap and heap[0][0] <= horizon:
            due, _, job = heapq.heappop(heap)
            if job not in jobs or job.due != due:
                continue  # stale: discarded, or its deadline moved
            try:
                following = job.run(now)
            except Exception:  # one broken job must not stop the others
                logger.exception("periodic job %r failed; it is stopped", job.run)
                following = None
            if following is None:
                jobs.discard(job)
                continue
            job.due = following
            heapq.heappush(heap, (following, next(self._order), job))
        while heap and (heap[0][2] not in jobs or heap[0][2].due != heap[0][0]):
            heapq.heappop(heap)
        if heap:  # the timer waits for the earliest job, no sooner
            earliest = max(heap[0][0], now + TICK_S / 2)
            self._set_timer(math.ceil(earliest / TICK_S) * TICK_S)
        else:
            self._set_timer(math.inf)


_TICKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Ticker] = weakref.WeakKeyDictionary()


def ticker() -> Ticker:
    """The running loop's shared timer."""
    loop = asyncio.get_running_loop()
    found = _TICKERS.get(loop)
    if found is None:
        found = _TICKERS[loop] = Ticker(loop)
    return found
