"""The floor harness (bench/floor.py) drives the real C fan-out over fake aiortc objects: it
must keep working as media's glue changes, or BENCHMARKS.md loses its floor figure."""

from __future__ import annotations

from bench.floor import measure


def test_the_floor_harness_measures_the_fan_out_and_the_pure_sendto_floor() -> None:
    figures = measure()
    assert figures["floor_us_per_packet"] > 0
    assert figures["sfu_leg_us_per_packet"] > 0
    assert 0 < figures["sfu_leg_over_floor"] < 10
