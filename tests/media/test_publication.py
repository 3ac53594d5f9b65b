"""Bandwidth feedback: without simulcast the publisher must fit the weakest subscriber."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

from media import ParticipantId, TrackSource
from media._aiortc import SenderTap, _sample
from media.publication import Publication


async def test_a_subscribers_remb_for_its_leg_is_recorded() -> None:
    sample = _sample()
    transceiver: Any = sample.transceiver
    tap = SenderTap(transceiver)
    ssrc = transceiver.sender._ssrc

    remb = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(300_000, [ssrc])
    )
    await transceiver.sender._handle_rtcp_packet(remb)
    assert tap.remb_bps == 300_000

    other = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(50_000, [ssrc + 1])
    )
    await transceiver.sender._handle_rtcp_packet(other)
    assert tap.remb_bps == 300_000  # another leg's estimate is not ours


async def test_the_publisher_is_capped_at_the_weakest_subscribers_estimate() -> None:
    sample = _sample()
    publication = Publication(
        ParticipantId("a"),
        TrackSource.CAMERA,
        "1",
        sample.receiver,  # type: ignore[arg-type]
        "VP8",
        0.5,
    )
    assert publication.weakest_subscriber_bps() is None
    legs = [SimpleNamespace(tap=SimpleNamespace(remb_bps=bps)) for bps in (900_000, None, 250_000)]
    publication.subscriptions = tuple(legs)  # type: ignore[arg-type]
    assert publication.weakest_subscriber_bps() == 250_000


async def test_rembs_to_a_publisher_are_throttled_unless_the_estimate_drops() -> None:
    from media._aiortc import ReceiverTap

    tap = ReceiverTap(_sample().receiver, lambda packet: None)  # type: ignore[arg-type]
    await tap._send_remb(1_000_000, [1], now_ms=0)
    await tap._send_remb(1_000_000, [1], now_ms=50)  # too soon, same estimate
    await tap._send_remb(1_100_000, [1], now_ms=100)  # too soon, higher
    assert tap.rembs_sent == 1
    await tap._send_remb(900_000, [1], now_ms=120)  # a drop goes out at once
    await tap._send_remb(950_000, [1], now_ms=400)  # and anything after 200 ms
    assert tap.rembs_sent == 3
    assert tap.remb_bps == 950_000
