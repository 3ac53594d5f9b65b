"""The shared timer: many periodic jobs, one wake-up for whatever is due in the same tick."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest

from media import ticker as ticker_module
from media.ticker import Periodic, ticker


@pytest.fixture(autouse=True)
def fast_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ticker_module, "TICK_S", 0.05)


async def test_jobs_due_in_the_same_tick_run_in_one_wake_up() -> None:
    loop = asyncio.get_running_loop()
    runs: list[tuple[str, float]] = []

    def job(name: str) -> Periodic:
        def run(now: float) -> float | None:
            runs.append((name, now))
            return None

        return Periodic(run, loop.time() + 0.06)

    shared = ticker()
    for name in ("a", "b", "c"):
        shared.add(job(name))
    await asyncio.sleep(0.3)

    assert sorted(name for name, _ in runs) == ["a", "b", "c"]
    assert len({now for _, now in runs}) == 1  # the same call of the timer
    assert len(shared) == 0


async def test_a_job_runs_at_its_own_deadlines_until_it_returns_none() -> None:
    loop = asyncio.get_running_loop()
    times: list[float] = []
    start = loop.time()

    def every_tenth(now: float) -> float | None:
        times.append(now - start)
        return now + 0.1 if len(times) < 4 else None

    ticker().add(Periodic(every_tenth, start + 0.1))
    await asyncio.sleep(0.7)

    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.05 <= gap <= 0.2 for gap in gaps), gaps


async def test_a_discarded_job_never_runs_and_the_timer_stops_with_no_jobs() -> None:
    loop = asyncio.get_running_loop()
    ran: list[float] = []

    def record(now: float) -> float | None:
        ran.append(now)
        return now + 0.05

    job = Periodic(record, loop.time() + 0.05)
    shared = ticker()
    shared.add(job)
    shared.discard(job)
    await asyncio.sleep(0.2)

    assert ran == []
    assert shared._handle is None


async def test_a_failing_job_is_stopped_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    ran: list[float] = []

    def broken(now: float) -> float | None:
        raise RuntimeError("broken job")

    def healthy(now: float) -> float | None:
        ran.append(now)
        return now + 0.05

    shared = ticker()
    shared.add(Periodic(broken, loop.time() + 0.05))
    healthy_job = Periodic(healthy, loop.time() + 0.05)
    shared.add(healthy_job)
    await asyncio.sleep(0.3)
    shared.discard(healthy_job)

    assert len(ran) >= 3
    assert "broken job" in caplog.text
    assert len(shared) == 0


async def test_an_earlier_job_added_later_brings_the_timer_forward() -> None:
    loop = asyncio.get_running_loop()
    ran: list[str] = []
    shared = ticker()

    def once(name: str) -> Callable[[float], float | None]:
        def run(now: float) -> float | None:
            ran.append(name)
            return None

        return run

    shared.add(Periodic(once("late"), loop.time() + 5))
    shared.add(Periodic(once("soon"), loop.time() + 0.05))
    await asyncio.sleep(0.2)

    assert ran == ["soon"]
    assert len(shared) == 1


async def test_a_due_job_runs_when_media_wakes_the_loop_and_the_timer_waits_for_the_next() -> None:
    loop = asyncio.get_running_loop()
    runs: list[float] = []
    shared = ticker()

    def every_second(now: float) -> float | None:
        runs.append(now)
        return now + 1.0

    shared.add(Periodic(every_second, loop.time() + 0.01))
    await asyncio.sleep(0.02)  # due, but the next tick (0.05 s grid) may not have come yet
    shared.maybe_run()  # what a media socket read calls
    ran_at = loop.time()

    assert len(runs) == 1
    # the timer is set for the job's next deadline, not for the tick it was due at
    assert shared._armed_for >= ran_at + 0.9
    shared.maybe_run()  # nothing is due: runs nothing
    assert len(runs) == 1


async def test_a_job_discarded_and_added_again_runs_once_per_deadline() -> None:
    loop = asyncio.get_running_loop()
    runs: list[float] = []
    shared = ticker()

    def record(now: float) -> float | None:
        runs.append(now)
        return None

    late = Periodic(lambda now: None, loop.time() + 5)
    shared.add(late)  # keeps the stale entry of the job below in the queue
    job = Periodic(record, loop.time() + 0.05)
    shared.add(job)
    shared.discard(job)
    shared.add(job)
    await asyncio.sleep(0.2)

    assert len(runs) == 1
    shared.discard(late)
