"""How saturated this process is: its CPU share of a core and its event loop's lag.

A media process forwards on one event loop, so one core is its ceiling. Past it the loop no
longer drains its sockets, the kernel drops packets, and every room on the process degrades
together. An SFU sheds load before that: a saturated node takes no new rooms, and past a hard
limit no new participants, while the peers already there keep their seats (they only lose
quality). This module gives that signal; `placement` and `gate` act on it.

    probe = ProcessLoad(settings)          # or any LoadProbe (tests: thresholds in settings)
    probe.start(asyncio.get_running_loop())
    probe.level      # Level.OK | Level.SATURATED | Level.OVERLOADED
    probe.stop()

The sampler is a thread, like the placement heartbeat: a starved loop cannot be trusted to
measure how starved it is. Each period it reads the process's CPU time and posts a callback to
the loop; the loop's lag is how long the previous one waited to run (or has been waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from .settings import ClusterSettings


class Level(IntEnum):
    """Ordered: a higher level refuses everything a lower one does, and more."""

    OK = 0
    SATURATED = 1
    "Takes no new room; participants of rooms hosted here are still admitted."
    OVERLOADED = 2
    "Admits nobody new; only participants with a seat in a room hosted here (reconnects)."


@dataclass(frozen=True)
class LoadSample:
    cpu_share: float
    "CPU-seconds per second of this process, averaged over the window (1.0 = one full core)."
    loop_lag_s: float
    "Mean time a callback posted to the event loop waited to run, over the window."


class LoadProbe(Protocol):
    @property
    def level(self) -> Level: ...

    @property
    def sample(self) -> LoadSample: ...


class ProcessLoad:
    """The real probe: a sampling thread, levels with hysteresis from `ClusterSettings`.

    A level is entered when the window's mean crosses its threshold (CPU share *or* lag) and
    left only when both are below `release_ratio` of it, so a node near a threshold does not
    flap between taking and refusing rooms at every heartbeat.
    """

    def __init__(
        self, settings: ClusterSettings, forwarded_packets: Callable[[], int] | None = None
    ) -> None:
        self.settings = settings
        "Thresholds, read at every sample: changing them takes effect within one period."
        self._forwarded_packets = forwarded_packets or (lambda: 0)
        self._forwarded: deque[tuple[float, int]] = deque(maxlen=2)
        "(time, cumulative forwarded packets) read on the loop: the thread never touches rooms."
        self._clock: int | None = None
        window = max(1, round(settings.load_window_s / settings.load_sample_s))
        self._cpu: deque[float] = deque(maxlen=window)
        self._lag: deque[float] = deque(maxlen=window)
        self._level = Level.OK
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._posted_at: float | None = None
        self._ran_at: float | None = None
        self._update()  # thresholds of 0 (tests) hold from the start

    @property
    def level(self) -> Level:
        return self._level

    @property
    def sample(self) -> LoadSample:
        return LoadSample(_mean(self._cpu), _mean(self._lag))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # The loop thread's own CPU clock (we are called on it): threads of the same process
        # (encoders in tests, executors) do not count against the loop's one core.
        with contextlib.suppress(AttributeError, OSError):
            self._clock = time.pthread_getcpuclockid(threading.get_ident())
        self._halt.clear()
        self._thread = threading.Thread(target=self._run, name="cluster-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _cpu_time(self) -> float:
        if self._clock is None:
            return time.process_time()
        return time.clock_gettime(self._clock)

    def _run(self) -> None:
        period = self.settings.load_sample_s
        wall, cpu = time.monotonic(), self._cpu_time()
        self._post(wall)
        while not self._halt.wait(period):
            now, used = time.monotonic(), self._cpu_time()
            self._cpu.append((used - cpu) / max(now - wall, 1e-6))
            wall, cpu = now, used
            posted, ran = self._posted_at, self._ran_at
            if posted is not None:
                # Not run yet: it has waited this long already, and that is the lag to report.
                self._lag.append((ran if ran is not None else now) - posted)
            self._update()
            if ran is not None or posted is None:
                self._post(now)

    def _post(self, now: float) -> None:
        self._posted_at, self._ran_at = now, None
        with contextlib.suppress(RuntimeError):  # the loop closed under us: shutting down
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._ran)

    def _ran(self) -> None:
        self._ran_at = now = time.monotonic()
        self._forwarded.append((now, self._forwarded_packets()))

    @property
    def forwarded_pps(self) -> float:
        samples = tuple(self._forwarded)  # one C-level copy: the loop appends meanwhile
        if len(samples) < 2:
            return 0.0
        (then, before), (now, count) = samples
        # Closed rooms take their counters with them: a drop is not negative traffic.
        return max(0.0, (count - before) / max(now - then, 1e-3))

    def _update(self) -> None:
        settings = self.settings
        cpu, lag = _mean(self._cpu), _mean(self._lag)
        level = Level.OK
        if self.forwarded_pps < settings.load_min_forwarded_pps:
            # Not a busy SFU: whatever keeps this loop busy (a join storm, a report), one more
            # room adds little to it. Tests of other features must not see their joins refused.
            self._level = level
            return
        for candidate, cpu_limit, lag_limit in (
            (Level.OVERLOADED, settings.overload_cpu, settings.overload_lag_s),
            (Level.SATURATED, settings.saturation_cpu, settings.saturation_lag_s),
        ):
            over = cpu >= cpu_limit or lag >= lag_limit
            ratio = settings.load_release_ratio
            near = cpu >= cpu_limit * ratio or lag >= lag_limit * ratio
            held = self._level >= candidate and near
            if over or held:
                level = candidate
                break
        self._level = level


class FixedLoad:
    """A probe that reports what it is told (single-process tests of the gate)."""

    def __init__(self, level: Level = Level.OK) -> None:
        self.level_now = level

    @property
    def level(self) -> Level:
        return self.level_now

    @property
    def sample(self) -> LoadSample:
        return LoadSample(0.0, 0.0)


def _mean(values: deque[float]) -> float:
    return sum(values) / len(values) if values else 0.0
