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
