"""The C ingest (media/_ingest.c) against aiortc's parser and receive statistics, with real
SRTP and a real leg on a UDP socket.

Each packet is protected by one libsrtp session and handed to an `Inlet` that unprotects with
the other; what the C path does is compared with what aiortc's `RtpPacket.parse`,
`StreamStatistics.add` and `NackGenerator.add` do with the same packet.
"""

from __future__ import annotations

import os
import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics
from aiortc.rtp import RtcpPsfbPacket, RtpPacket
from pylibsrtp import Policy, Session

from media._aiortc import SRTP_UNPROTECT_ADDRESS, FastIngest, _srtp_address
from media._fanout import Inbound, Inlet, RembEstimator

from . import rtpsamples
from .legs import Wire, wire


class Stream:
    """An SRTP sender and the `Inlet` receiving from it, for one stream."""

    def __init__(self, inlet: Inlet, ssrc: int = 0x5EED, payload_type: int = 111) -> None:
        self.inlet = inlet
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.remb = RembEstimator()
        self.estimates: list[tuple[int, list[int], int]] = []
        self.stats = StreamStatistics(48000)
        self.nack = NackGenerator()
        self.rekey()

    def rekey(self) -> None:
        """New SRTP sessions: the same sequence number can be sent again (no replay)."""
        key = os.urandom(30)
        self.tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
        self.rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
        self.inlet.set_srtp(SRTP_UNPROTECT_ADDRESS, _srtp_address(self.rx), self.rx)

    def packet(self, seq: int, ts: int = 0, **fields: Any) -> RtpPacket:
        packet = RtpPacket(
            payload_type=fields.pop("payload_type", self.payload_type),
            sequence_number=seq & 0xFFFF,
            timestamp=ts,
            ssrc=self.ssrc,
            payload=fields.pop("payload", b"\x01\x02\x03"),
            **fields,
        )
        packet.extensions.audio_level = (True, 30)
        packet.extensions.abs_send_time = 0x123456
        return packet

    def send(self, packet: RtpPacket) -> Any:
        return self.inlet.take(self.tx.protect(packet.serialize(rtpsamples.extensions_map())))

    def armed(self, first: RtpPacket, legs: tuple[Any, ...] = ()) -> Inbound:
        """An Inbound armed the way Python arms it, after handling `first` itself."""
        self.stats.add(first)
        self.nack.add(first)
        inbound = Inbound()
        inbound.arm(
            first.ssrc,
            first.payload_type,
            48000,
            self.stats,
            self.nack,
            self.remb,
            lambda *estimate: self.estimates.append(estimate),
        )
        inbound.legs = legs
        self.inlet.route(first.ssrc, inbound)
        return inbound


def inlet_for(xmap: Any) -> Inlet:
    """An Inlet told the extension ids of `xmap` the way FastIngest tells it."""
    ingest = FastIngest(SimpleNamespace(_rtp_header_extensions_map=xmap))  # type: ignore[arg-type]
    inlet: Inlet = ingest.inlet
    return inlet


def test_the_c_ingest_takes_exactly_what_aiortc_parses_and_forwards_it_unchanged(
    wires: list[Wire],
) -> None:
    xmap = rtpsamples.extensions_map()
    inlet = inlet_for(xmap)
    leg = wire(wires, audio=True)  # spliced with the audio level when the packet has one
    taken = declined = 0
    for index, data in enumerate(rtpsamples.samples(xmap)):
        well_formed = index < rtpsamples.WELL_FORMED
        stream = Stream(inlet)
        try:
            protected = stream.tx.protect(data)
        except Exception:
            continue  # libsrtp cannot send it either
        expected = rtpsamples.parsed(data, xmap)
        inlet.flush()
        inbound: Inbound | None = None
        if len(data) >= 12:
            # armed for this packet's stream, whose previous packet was the one before
            ssrc, seq = int.from_bytes(data[8:12], "big"), int.from_bytes(data[2:4], "big")
            first = RtpPacket(
                payload_type=data[1] & 0x7F,
                sequence_number=(seq - 1) & 0xFFFF,
                timestamp=int.from_bytes(data[4:8], "big") ^ 1,
                ssrc=ssrc,
            )
            inbound = stream.armed(first, (leg.leg,))
            # the leg numbers its packets 1, 2, 3...: libsrtp refuses to send far-back ones
            leg.leg.start((taken + 1 - seq) & 0xFFFF, 0)
        result = inlet.take(protected)
        if result is not True:
            # declined: Python gets the plaintext to parse and handle
            assert result == data, data.hex()
            declined += 1
            # the usual packet (one-byte extensions, no CSRC) is always taken
            assert not (well_formed and isinstance(expected, tuple) and not expected[6])
            continue
        # taken: only what aiortc's parser reads, exactly as aiortc reads it
        assert expected not in (ValueError, rtpsamples.CRASHES_AIORTC), data.hex()
        assert not expected[6] and inbound is not None, data.hex()
        taken += 1
        _, marker, _, seq, ts, ssrc, _, extensions, payload, padding = expected
        level = extensions.audio_level
        level_byte = -1 if level is None else (0x80 if level[0] else 0) | level[1]
        assert leg.receive() == [leg.expected(taken, ts, marker, payload, level_byte, padding)]
        # aiortc's statistics and NACK state took it as the next packet
        assert inbound.forwarded == 1 and inbound.last_seq == seq and inbound.last_ts == ts
        assert inbound.packets == 1
        # the frame's bytes are counted for REMB, and given to the estimator at its end
        estimator = stream.remb.state()
        if extensions.abs_send_time is not None and marker:
            assert inbound.remb_bytes == 0
            assert estimator["incoming_bytes"] == len(payload) + padding
            assert estimator["ssrcs"] == [ssrc]
        else:
            counted = len(payload) + padding if extensions.abs_send_time is not None else 0
            assert inbound.remb_bytes == counted
            assert estimator["ssrcs"] == []
    assert taken > 150 and declined > 80


def test_in_order_packets_are_counted_as_aiortcs_statistics_count_them() -> None:
    inlet = inlet_for(rtpsamples.extensions_map())
    stream = Stream(inlet)
    first = stream.packet(65530, ts=1000)
    inbound = stream.armed(first)
    stats = stream.stats  # the C path's, read by aiortc's RTCP and getStats
    reference = StreamStatistics(48000)  # aiortc's, fed the same packets
    reference.add(first)
    jitter_q4 = 0
    last_arrival: Any = stats._last_arrival
    last_ts = 1000
    for i in range(1, 12):  # the sequence number wraps
        packet = stream.packet(65530 + i, ts=1000 + 960 * i + (i % 3) * 5)
        before = int(time.time() * 48000)
        assert stream.send(packet) is True
        arrival: Any = stats._last_arrival
        assert before <= arrival <= int(time.time() * 48000)
        reference.add(packet)
        # the jitter from the arrival times C took, by RFC 3550's formula as aiortc has it
        diff = abs((arrival - last_arrival) - (packet.timestamp - last_ts))
        jitter_q4 += diff - ((jitter_q4 + 8) >> 4)
        last_arrival, last_ts = arrival, packet.timestamp
        assert (stats.base_seq, stats.max_seq, stats.cycles, stats.packets_received) == (
            reference.base_seq,
            reference.max_seq,
            reference.cycles,
            reference.packets_received,
        )
        assert stats._jitter_q4 == jitter_q4
        assert stats._last_timestamp == packet.timestamp
        assert stream.nack.max_seq == packet.sequence_number and not stream.nack.missing
    assert stats.cycles == 1 << 16
    assert stats.packets_lost == 0 and stats.fraction_lost == 0
    assert inbound.packets == 11
    assert inbound.forwarded == 0  # no legs: counted, sent nowhere


def test_anything_but_the_next_packet_of_a_forwarding_stream_goes_to_python() -> None:
    inlet = inlet_for(rtpsamples.extensions_map())
    stream = Stream(inlet)
    inbound = stream.armed(stream.packet(100))
    stats = stream.stats

    def python_gets(packet: RtpPacket) -> bool:
        stream.rekey()
        before = (stats.max_seq, stats.packets_received, stream.nack.max_seq, inbound.packets)
        result = stream.send(packet)
        after = (stats.max_seq, stats.packets_received, stream.nack.max_seq, inbound.packets)
        return result == packet.serialize(rtpsamples.extensions_map()) and before == after

    assert stream.send(stream.packet(101)) is True
    assert python_gets(stream.packet(103))  # a gap: NACKs are Python's
    assert python_gets(stream.packet(95))  # late
    assert python_gets(stream.packet(102, payload_type=112))  # RTX or another codec
    assert python_gets(stream.packet(102, payload_type=112))
    other = Stream(inlet, ssrc=0xABC)  # a stream Python did not route here
    assert other.send(other.packet(1)) == other.packet(1).serialize(rtpsamples.extensions_map())
    inbound.legs = None  # muted, closed or waiting for a keyframe
    assert python_gets(stream.packet(102))
    inbound.legs = ()
    inlet.quiet = 1  # the sockets must come back from the quiet lane first
    assert python_gets(stream.packet(102))
    inlet.quiet = 0
    stream.rekey()
    assert stream.send(stream.packet(102)) is True
    inlet.flush()  # aiortc's receiver tables changed
    assert python_gets(stream.packet(103))
    inlet.route(stream.ssrc, inbound)
    inbound.disarm()  # the tap gave the stream up
    assert python_gets(stream.packet(103))


def test_what_is_not_srtp_for_a_connected_transport_is_left_to_the_python_path() -> None:
    inlet = inlet_for(rtpsamples.extensions_map())
    stream = Stream(inlet)
    stream.armed(stream.packet(1))
    rtcp = stream.tx.protect_rtcp(bytes(RtcpPsfbPacket(fmt=1, ssrc=1, media_ssrc=2)))
    assert inlet.take(rtcp) is False
    assert inlet.take(b"\x00\x01\x00\x00" + bytes(16)) is False  # STUN
    assert inlet.take(b"\x16\xfe\xfd" + bytes(10)) is False  # DTLS
    assert inlet.take(bytearray(b"\x80" * 20)) is False  # type: ignore[arg-type]
    assert inlet.take(b"\x80\x60" + bytes(3000)) is False  # longer than any UDP payload we read
    inlet.set_srtp(0, 0, None)  # the transport left CONNECTED
    assert stream.send(stream.packet(2)) is False
    with pytest.raises(ValueError):
        inlet.set_srtp(1, 0, None)
    with pytest.raises(ValueError):
        inlet.set_extensions(b"\x00" * 15)


def test_a_packet_libsrtp_refuses_is_dropped_as_aiortc_drops_it() -> None:
    inlet = inlet_for(rtpsamples.extensions_map())
    stream = Stream(inlet)
    inbound = stream.armed(stream.packet(1))
    protected = stream.tx.protect(stream.packet(2).serialize(rtpsamples.extensions_map()))
    tampered = protected[:-1] + bytes([protected[-1] ^ 1])
    assert inlet.take(tampered) is True
    assert inbound.packets == 0
    assert inlet.take(protected) is True
    assert inlet.take(protected) is True  # a replay: refused, dropped
    assert inbound.packets == 1
    assert inlet.rx_packets == 3


def test_the_next_packet_is_taken_while_nacks_are_outstanding_and_too_old_ones_are_forgotten() -> (
    None
):
    inlet = inlet_for(rtpsamples.extensions_map())
    stream = Stream(inlet)
    first = stream.packet(1000)
    stream.armed(first)
    reference = NackGenerator()  # aiortc's, fed the same packets
    reference.add(first)
    # packets 1001..1003 were lost and NACKed; the RTX repairs have not come
    stream.nack.missing.update({1001, 1002, 1003})
    stream.nack.max_seq = 1003
    reference.missing.update({1001, 1002, 1003})
    reference.max_seq = 1003
    for seq in range(1004, 1140):
        packet = stream.packet(seq)
        assert stream.send(packet) is True  # C, not Python, despite the outstanding NACKs
        reference.add(packet)
        assert (stream.nack.max_seq, stream.nack.missing) == (reference.max_seq, reference.missing)
    # 128 packets on, the ones no sender history holds any more were forgotten, as aiortc does
    assert stream.nack.missing == set() == reference.missing
    assert stream.stats.packets_received == 1 + (1140 - 1004)
