"""The load probe measures this process for real: CPU time and event-loop lag, from a thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from server.cluster import ClusterSettings
from server.cluster.load import Level, ProcessLoad

# No media here: the forwarding floor is off, so the loop's own load decides.
FAST = {"load_sample_s": 0.05, "load_window_s": 0.3, "load_min_forwarded_pps": 0}


@pytest.fixture
async def probe() -> AsyncIterator[ProcessLoad]:
    load = ProcessLoad(ClusterSettings(**FAST))  # type: ignore[arg-type]
    load.start(asyncio.get_running_loop())
    yield load
    load.stop()


async def until(condition: object, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def test_an_idle_process_has_headroom(probe: ProcessLoad) -> None:
    await asyncio.sleep(0.5)
    assert probe.level is Level.OK
    assert probe.sample.cpu_share < 0.5
    assert probe.sample.loop_lag_s < 0.05


async def test_a_loop_kept_busy_is_overloaded_and_recovers_once_it_is_idle_again(
    probe: ProcessLoad,
) -> None:
    # By its lag alone: a shared machine may not give this process a whole core.
    probe.settings.overload_lag_s, probe.settings.overload_cpu = 0.1, 2.0
    levels: set[Level] = set()
    busy_until = time.monotonic() + 1.0
    while time.monotonic() < busy_until:
        # The loop runs nothing else for 0.3 s at a time: what a saturated media loop looks like.
        spin = time.monotonic() + 0.3
        while time.monotonic() < spin:
            pass
        levels.add(probe.level)
        await asyncio.sleep(0)
    assert Level.OVERLOADED in levels
    assert probe.sample.cpu_share > 0.5
    await until(lambda: probe.level is Level.OK)


async def test_thresholds_changed_at_run_time_take_effect_within_a_period(
    probe: ProcessLoad,
) -> None:
    await asyncio.sleep(0.2)
    before = probe.level
    assert before is Level.OK
    probe.settings.saturation_cpu = 0.0
    await until(lambda: probe.level is Level.SATURATED, within=1.0)
    probe.settings.saturation_cpu = 2.0
    await until(lambda: probe.level is Level.OK, within=1.0)


def test_a_threshold_of_zero_holds_from_the_start() -> None:
    off = {"load_min_forwarded_pps": 0}
    assert ProcessLoad(ClusterSettings(saturation_cpu=0, **off)).level is Level.SATURATED  # type: ignore[arg-type]
    assert ProcessLoad(ClusterSettings(overload_lag_s=0, **off)).level is Level.OVERLOADED  # type: ignore[arg-type]


async def test_a_process_forwarding_little_media_never_sheds_load() -> None:
    packets = [0]
    probe = ProcessLoad(
        ClusterSettings(saturation_cpu=0, overload_cpu=0, load_sample_s=0.05),
        forwarded_packets=lambda: packets[0],
    )
    probe.start(asyncio.get_running_loop())
    try:
        await asyncio.sleep(0.3)
        idle = probe.level
        assert idle is Level.OK  # 0 pkt/s, below the 2,000 pkt/s floor

        async def forward() -> None:  # ~100,000 pkt/s, as a busy SFU
            while True:
                packets[0] += 1000
                await asyncio.sleep(0.01)

        # two samples taken between the same two increments read 0 pkt/s: wait for the
        # sampler to see the traffic instead of assuming when it does
        forwarding = asyncio.ensure_future(forward())
        try:
            deadline = asyncio.get_running_loop().time() + 5
            while not (probe.forwarded_pps > 2000 and probe.level is Level.OVERLOADED):
                assert asyncio.get_running_loop().time() < deadline, probe.forwarded_pps
                await asyncio.sleep(0.02)
        finally:
            forwarding.cancel()
    finally:
        probe.stop()
