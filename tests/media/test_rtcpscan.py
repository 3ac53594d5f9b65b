"""The lean RTCP reading reads what aiortc's parser reads, or declines."""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

import pytest
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)

from media.rtcpscan import PLI, REMB, RR, scan


def receiver_report(rng: random.Random, blocks: int) -> RtcpRrPacket:
    return RtcpRrPacket(
        ssrc=rng.getrandbits(32),
        reports=[
            RtcpReceiverInfo(
                ssrc=rng.getrandbits(32),
                fraction_lost=rng.getrandbits(8),
                packets_lost=rng.randint(-(1 << 23), (1 << 23) - 1),
                highest_sequence=rng.getrandbits(32),
                jitter=rng.getrandbits(32),
                lsr=rng.getrandbits(32),
                dlsr=rng.getrandbits(32),
            )
            for _ in range(blocks)
        ],
    )


def as_items(packets: Sequence[object]) -> list[tuple[int, int, object]]:
    """What `scan` should return, derived from aiortc's parsed packets."""
    items: list[tuple[int, int, object]] = []
    for packet in packets:
        if isinstance(packet, RtcpRrPacket):
            for r in packet.reports:
                report = (
                    r.ssrc,
                    r.fraction_lost,
                    r.packets_lost,
                    r.highest_sequence,
                    r.jitter,
                    r.lsr,
                    r.dlsr,
                )
                items.append((RR, packet.ssrc, report))
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_PLI:
            items.append((PLI, packet.ssrc, packet.media_ssrc))
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            bitrate, ssrcs = unpack_remb_fci(packet.fci)
            items.append((REMB, bitrate, tuple(ssrcs)))
    return items


def test_receiver_reports_pli_remb_and_sdes_read_as_aiortc_reads_them() -> None:
    rng = random.Random(7)
    for _ in range(300):
        packets: list[object] = [receiver_report(rng, rng.randint(0, 3))]
        if rng.random() < 0.5:
            cname = f"{rng.getrandbits(64):x}".encode()
            packets.append(RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=1, items=[(1, cname)])]))
        if rng.random() < 0.3:
            packets.append(
                RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=rng.getrandbits(32), media_ssrc=9)
            )
        if rng.random() < 0.3:
            ssrcs = [rng.getrandbits(32) for _ in range(rng.randint(1, 3))]
            fci = pack_remb_fci(rng.randint(1, 1 << 30), ssrcs)
            packets.append(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=3, media_ssrc=0, fci=fci))
        data = b"".join(bytes(p) for p in packets)  # type: ignore[call-overload]

        assert scan(data) == as_items(RtcpPacket.parse(data))


@pytest.mark.parametrize(
    "packet",
    [
        RtcpSrPacket(ssrc=1, sender_info=RtcpSenderInfo(1, 2, 3, 4)),
        RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=2, lost=[5, 6]),
        RtcpByePacket(sources=[1]),
        RtcpPsfbPacket(fmt=4, ssrc=1, media_ssrc=2, fci=b"\x00" * 8),  # FIR
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"APPX\x00\x00\x00\x00"),
    ],
    ids=["sender report", "nack", "bye", "fir", "app not remb"],
)
def test_anything_else_in_the_compound_is_left_to_aiortc(packet: object) -> None:
    report = bytes(receiver_report(random.Random(1), 1))

    assert scan(report + bytes(packet)) is None  # type: ignore[call-overload]
    assert scan(bytes(packet) + report) is None  # type: ignore[call-overload]


def test_malformed_compounds_are_declined_where_aiortc_refuses_them() -> None:
    good = bytes(receiver_report(random.Random(2), 2))
    candidates = [
        b"",
        good[:3],  # shorter than a header
        good[:-4],  # truncated
        bytes([good[0] & 0x3F]) + good[1:],  # version 0
        bytes([good[0] | 0x20]) + good[1:] + b"\x00\x00\x00\x04",  # padding: left to aiortc
        good[:2] + struct.pack("!H", 2) + good[4:12],  # length and count disagree
        # a REMB whose FCI names more SSRCs than it holds
        bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"REMB\x03\x00\x10\x00")),
        # an SDES aiortc cannot read makes it drop the whole compound
        good + bytes.fromhex("81ca00020000000101056162"),
    ]
    for data in candidates:
        assert scan(data) is None, data.hex()
