"""The C REMB estimator (media/_remb.c) gives aiortc's RemoteBitrateEstimator results, step for
step, on steady, congested, jittery, wrapping and adversarial frame sequences."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from aiortc.rate import RemoteBitrateEstimator

from media._fanout import RembEstimator

Frame = tuple[int, int, int, int]  # arrival_time_ms, abs_send_time, payload_size, ssrc
NTP_MS = 3_900_000_000_000  # milliseconds since 1900, as clock.current_ms() gives


def abs_send_time(send_ms: float) -> int:
    """6.18 fixed-point seconds, 24 bits: wraps every 64 s."""
    return int(send_ms * (1 << 18) / 1000) & 0xFFFFFF


def steady(rng: random.Random, seconds: float = 20, bps: int = 1_000_000) -> Iterator[Frame]:
    for i in range(int(seconds * 30)):
        send = i * 1000 / 30
        yield NTP_MS + int(send) + rng.randrange(0, 4), abs_send_time(send), bps // 240, 1


def congested(rng: random.Random) -> Iterator[Frame]:
    """The link fills (queueing delay grows 2 ms per frame), then drains."""
    delay = 0.0
    for i in range(1500):
        send = i * 1000 / 30
        phase = (i // 150) % 3
        delay = max(0.0, delay + (2.0 if phase == 1 else -3.0 if phase == 2 else 0.0))
        size = 6000 + rng.randrange(-500, 500)
        yield NTP_MS + int(send + delay + rng.random()), abs_send_time(send), size, 7


def adversarial(rng: random.Random) -> Iterator[Frame]:
    """Jitter, reordering, bursts, time going back, long gaps, the 24-bit wrap, two SSRCs."""
    send = 63_000.0  # the abs-send-time wraps at 64 s
    arrival = NTP_MS
    for _ in range(4000):
        step = rng.choice([0, 1, 5, 33, 33, 33, 34, 100, 1500])
        send += step + rng.random()
        arrival += max(-3, int(step + rng.gauss(0, 8)))
        if rng.random() < 0.02:
            arrival += rng.choice([1100, 3500, -5])
        ts = abs_send_time(send - (rng.randrange(1, 50) if rng.random() < 0.03 else 0))
        size = rng.choice([0, 1, 300, 1200, 5000, 40000])
        yield arrival, ts, size, rng.choice([11, 11, 11, 12])


def state(reference: RemoteBitrateEstimator) -> dict[str, object]:
    return {
        "hypothesis": reference.detector.hypothesis.value,
        "current_bitrate": reference.rate_control.current_bitrate,
        "state": reference.rate_control.state.value,
        "threshold": reference.detector.threshold,
        "num_of_deltas": reference.estimator.num_of_deltas(),
        "incoming_bytes": reference.incoming_bitrate._total.value,
        "ssrcs": list(reference.ssrcs),
    }


@pytest.mark.parametrize("scenario", [steady, congested, adversarial])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_c_estimator_answers_each_frame_exactly_as_aiortcs(scenario: object, seed: int) -> None:
    rng = random.Random(seed)
    reference = RemoteBitrateEstimator()
    estimator = RembEstimator()
    answers = 0
    states = set()
    for step, (arrival, ts, size, ssrc) in enumerate(scenario(rng)):  # type: ignore[operator]
        try:
            expected = reference.add(
                arrival_time_ms=arrival, abs_send_time=ts, payload_size=size, ssrc=ssrc
            )
        except ZeroDivisionError:
            return  # aiortc's rate control divides by a zero bitrate: nothing to compare after
        got = estimator.add(arrival, ts, size, ssrc)
        assert got == expected, step
        assert estimator.state() == state(reference), step
        answers += expected is not None
        states.add(reference.detector.hypothesis.value)
    assert answers > 10
    if scenario is congested:
        assert states == {0, 1, 2}  # normal, underusing and overusing were all compared


def test_bad_arguments_are_refused() -> None:
    estimator = RembEstimator()
    with pytest.raises(ValueError):
        estimator.add(NTP_MS, 1 << 24, 100, 1)
    with pytest.raises(OverflowError):
        estimator.add(NTP_MS, 1, 100, -1)
    with pytest.raises(TypeError):
        estimator.add(NTP_MS, 1, 100)  # type: ignore[call-arg]
