"""The C fan-out (media/_fanout.c) against aiortc's own serialisation, over real UDP and SRTP.

Each leg here is wired the way `SenderTap` wires it: a header template aiortc serialised,
libsrtp through pylibsrtp's cffi library, a real non-blocking UDP socket. What the receiving
socket gets is unprotected with a session holding the same key and compared byte for byte with
the `RtpPacket` aiortc would have built for that leg.
"""

from __future__ import annotations

import os
import socket
from types import SimpleNamespace
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket, RtpPacket
from pylibsrtp import Policy, Session

from media._aiortc import SRTCP_PROTECT_ADDRESS, SRTP_PROTECT_ADDRESS, SenderTap, _srtp_address
from media._fanout import HISTORY_SIZE, MAX_PLAINTEXT, Leg, forward
from media.subscription import header_template

from .legs import NTP, Wire, wire


def test_each_leg_sends_exactly_what_aiortc_would_serialise_for_it(wires: list[Wire]) -> None:
    video = wire(wires, ssrc=0xDEADBEEF, mid="0")
    other = wire(wires, ssrc=7, mid="12")
    video.leg.start(0xFFF0, 0xFFFFFF00)  # both numbers wrap within the run
    other.leg.start(5, 1)
    sent = []
    for i in range(40):
        seq, ts = (0x20 + i) & 0xFFFF, 3000 * i + 0x300
        payload = os.urandom(1 + 30 * i)
        marker, padding = i % 3 == 0, (i * 7) % 20
        assert (
            forward(
                (video.leg, other.leg), seq, ts, 0x80 if marker else 0, payload, -1, NTP, padding
            )
            == 2
        )
        sent.append((seq, ts, marker, payload, padding))

    for w, (seq_off, ts_off) in ((video, (0xFFF0, 0xFFFFFF00)), (other, (5, 1))):
        got = w.receive()
        assert got == [
            w.expected(seq + seq_off, ts + ts_off, marker, payload, -1, padding)
            for seq, ts, marker, payload, padding in sent
        ]
        assert w.leg.packets == 40
        assert w.leg.octets == sum(len(p) for _, _, _, p, _ in sent)


def test_audio_levels_are_spliced_per_packet_and_absent_levels_use_the_plain_template(
    wires: list[Wire],
) -> None:
    audio = wire(wires, audio=True)
    audio.leg.start(100, 200)
    forward((audio.leg,), 1, 960, 0x80, b"\x01\x02", 0x80 | 0x2A, NTP, 0)
    forward((audio.leg,), 2, 1920, 0, b"\x03", 0x05, NTP, 0)
    forward((audio.leg,), 3, 2880, 0, b"\x04", -1, NTP, 0)

    assert audio.receive() == [
        audio.expected(101, 1160, True, b"\x01\x02", 0x80 | 0x2A, 0),
        audio.expected(102, 2120, False, b"\x03", 0x05, 0),
        # no level on the packet: aiortc serialises MID only (no abs-send-time on audio)
        _mid_only(audio, 103, 3080, b"\x04"),
    ]


def _mid_only(w: Wire, seq: int, ts: int, payload: bytes) -> bytes:
    packet = RtpPacket(
        payload_type=w.payload_type, sequence_number=seq, timestamp=ts, ssrc=w.ssrc, payload=payload
    )
    packet.extensions.mid = w.mid
    return packet.serialize(w.xmap)


def test_the_history_rebuilds_the_plaintext_a_nack_asks_for(wires: list[Wire]) -> None:
    w = wire(wires)
    w.leg.start(10, 0)
    payloads = [os.urandom(100 + i) for i in range(HISTORY_SIZE + 5)]
    for i, payload in enumerate(payloads):
        forward((w.leg,), i, 90 * i, 0x80, payload, -1, NTP, 3 if i == 7 else 0)
    sent = w.receive()

    # the last 128 packets are there, each rebuilt byte for byte
    for i in range(5, HISTORY_SIZE + 5):
        seq = i + 10
        entry = w.leg.history(seq % HISTORY_SIZE)
        assert entry == (seq, sent[i])
    assert w.leg.history(HISTORY_SIZE) is None
    assert w.leg.history(-1) is None
    assert Leg().history(0) is None


def test_stopped_disconnected_and_repointed_legs(wires: list[Wire]) -> None:
    a, b = wire(wires), wire(wires)
    legs = (a.leg, b.leg)
    assert forward(legs, 1, 1, 0, b"x", -1, NTP, 0) == 0  # neither started
    a.leg.start(0, 0)
    b.leg.start(0, 0)
    b.leg.set_connected(False)
    assert forward(legs, 2, 2, 0, b"x", -1, NTP, 0) == 1
    b.leg.set_connected(True)
    assert forward(legs, 3, 3, 0, b"x", -1, NTP, 0) == 2
    a.leg.stop()
    assert forward(legs, 4, 4, 0, b"x", -1, NTP, 0) == 1
    assert [len(a.receive()), len(b.receive())] == [2, 2]

    # ICE nominated another pair: the leg asks Python to re-read the socket, once
    new_pair = object()
    b.pairs[1] = new_pair
    forward(legs, 5, 5, 0, b"x", -1, NTP, 0)
    forward(legs, 6, 6, 0, b"x", -1, NTP, 0)
    assert b.repoints[-1] is new_pair and b.repoints.count(new_pair) == 1
    del b.pairs[1]  # ICE closed: nothing to send on
    assert forward(legs, 7, 7, 0, b"x", -1, NTP, 0) == 0
    assert b.repoints[-1] is None


def test_a_closed_socket_or_a_refused_send_does_not_stop_the_other_legs(
    wires: list[Wire],
) -> None:
    closed, refused, fine = wire(wires), wire(wires), wire(wires)
    for w in (closed, refused, fine):
        w.leg.start(0, 0)
    legs = (closed.leg, refused.leg, fine.leg)
    forward(legs, 1, 1, 0, b"first", -1, NTP, 0)  # every leg picks its socket up
    closed.sock.close()  # its fd number may be reused by anyone now
    # the kernel refuses a broadcast without SO_BROADCAST (EACCES), like an ICMP error would
    refused.leg.set_socket(refused.pairs[1], refused.sock, "255.255.255.255", 9, lambda d: False)

    assert forward(legs, 2, 2, 0, b"second", -1, NTP, 0) == 2
    assert [len(w.receive()) for w in (closed, refused, fine)] == [1, 1, 2]
    assert refused.leg.send_errors == 1
    assert fine.leg.send_errors == 0


def test_bad_arguments_raise_and_send_nothing(wires: list[Wire]) -> None:
    small, big = wire(wires), wire(wires)
    small.leg.start(0, 0)
    big.leg.start(0, 0)
    legs = (small.leg, big.leg)
    header = len(header_template(_tap(small), 96, with_level=False)[0])
    with pytest.raises(ValueError, match="longer than"):
        forward(legs, 1, 1, 0, bytes(MAX_PLAINTEXT - header + 1), -1, NTP, 0)
    with pytest.raises(ValueError, match="longer than"):
        forward(legs, 1, 1, 0, bytes(MAX_PLAINTEXT - header), -1, NTP, 1)
    with pytest.raises(TypeError):
        forward([small.leg], 1, 1, 0, b"x", -1, NTP, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        forward((small.leg, "leg"), 1, 1, 0, b"x", -1, NTP, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        forward(legs, 1, 1, 0, "text", -1, NTP, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        forward(legs, 1, 1)  # type: ignore[call-arg]
    for bad in (
        (0x10000, 1, 0, -1, 0),
        (1, 1 << 32, 0, -1, 0),
        (1, 1, 1, -1, 0),
        (1, 1, 0, 256, 0),
        (1, 1, 0, -1, 256),
    ):
        seq, ts, marker, level, padding = bad
        with pytest.raises((ValueError, OverflowError)):
            forward(legs, seq, ts, marker, b"x", level, NTP, padding)
    assert small.receive() == [] and big.receive() == []
    assert small.leg.packets == 0

    # exactly at the limit still goes
    assert forward(legs, 1, 1, 0, bytes(MAX_PLAINTEXT - header), -1, NTP, 0) == 2


def test_a_leg_refuses_bad_configuration() -> None:
    leg = Leg()
    with pytest.raises(RuntimeError):
        leg.start(0, 0)  # no templates yet
    with pytest.raises(ValueError):
        leg.set_templates(b"short", 0, 0, b"short", 0, 0)
    with pytest.raises(ValueError):
        leg.set_templates(bytes(20), 18, 3, bytes(20), 0, 0)  # runs past the end
    with pytest.raises(TypeError):
        leg.set_templates("text", 0, 0, bytes(12), 0, 0)  # type: ignore[arg-type]
    leg.set_templates(bytes(12), 0, 0, bytes(12), 0, 0)
    with pytest.raises(ValueError):
        leg.start(1 << 16, 0)
    with pytest.raises(ValueError):
        leg.set_srtp(0, 0, None)
    with pytest.raises(TypeError):
        leg.set_liveness({}, "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an IP"):
        leg.set_socket(
            object(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM), "example", 9, bool
        )
    with pytest.raises(TypeError):
        Leg(1)  # type: ignore[call-arg]


def _tap(w: Wire) -> Any:
    return SimpleNamespace(
        ssrc=w.ssrc, extensions_map=w.xmap, transceiver=SimpleNamespace(mid=w.mid)
    )


async def test_sender_reports_read_the_counters_of_the_leg_through_the_sender() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        sender = transceiver.sender
        tap = SenderTap(transceiver)
        assert type(sender).__name__ == "ForwardingSender"
        assert sender._RTCRtpSender__packet_count == 0  # type: ignore[attr-defined]

        key = os.urandom(30)
        tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        leg = tap.leg
        header = bytes((0x80, 96)) + bytes(10)  # V=2, PT 96
        tap.set_templates((header, 0, 0), (header, 0, 0))
        leg.set_srtp(SRTP_PROTECT_ADDRESS, _srtp_address(tx), tx)
        port = receiver.getsockname()[1]
        leg.set_liveness(
            {1: "pair"}, lambda p: leg.set_socket(p, sock, "127.0.0.1", port, lambda d: False)
        )
        leg.set_connected(True)
        leg.start(0, 1000)
        for i in range(3):
            forward((leg,), i, 90 * i, 0, bytes(10 + i), -1, NTP + i, 0)

        assert sender._RTCRtpSender__packet_count == 3  # type: ignore[attr-defined]
        assert sender._RTCRtpSender__octet_count == 33  # type: ignore[attr-defined]
        assert sender._RTCRtpSender__rtp_timestamp == 1180  # type: ignore[attr-defined]
        assert sender._RTCRtpSender__ntp_timestamp == NTP + 2  # type: ignore[attr-defined]
        # a write (aiortc's own RTP loop would) reads back, and later packets still count
        sender._RTCRtpSender__packet_count = 10  # type: ignore[attr-defined]
        forward((leg,), 3, 270, 0, b"x", -1, NTP, 0)
        assert sender._RTCRtpSender__packet_count == 11  # type: ignore[attr-defined]
        # NACK -> RTX reads the history through the shim, as a parsed packet
        packet = sender._RTCRtpSender__rtp_history.get(2)  # type: ignore[attr-defined]
        assert packet.sequence_number == 2 and packet.payload == bytes(12)
        sock.close()
        receiver.close()
    finally:
        await pc.close()


async def test_the_lean_sender_report_is_the_one_aiortc_would_build() -> None:
    from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket

    pc = RTCPeerConnection()
    try:
        tap = SenderTap(pc.addTransceiver("audio", direction="sendonly"))
        tap.set_templates(
            (bytes((0x80, 111)) + bytes(10), 0, 0), (bytes((0x80, 111)) + bytes(10), 0, 0)
        )
        key = os.urandom(30)
        tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
        tap.leg.set_srtp(SRTP_PROTECT_ADDRESS, _srtp_address(tx), tx)
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        port = receiver.getsockname()[1]
        leg = tap.leg
        leg.set_liveness(
            {1: "pair"}, lambda p: leg.set_socket(p, sock, "127.0.0.1", port, lambda d: False)
        )
        leg.set_connected(True)
        leg.start(7, 0xFFFFFF00)
        for i in range(3):
            assert forward((leg,), i, 960 * i, 0, bytes(20 + i), -1, NTP + i, 0) == 1
        sock.close()
        receiver.close()
        sender = tap.sender
        expected = RtcpSrPacket(
            ssrc=sender._ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=sender._RTCRtpSender__ntp_timestamp,  # type: ignore[attr-defined]
                rtp_timestamp=sender._RTCRtpSender__rtp_timestamp,  # type: ignore[attr-defined]
                packet_count=sender._RTCRtpSender__packet_count,  # type: ignore[attr-defined]
                octet_count=sender._RTCRtpSender__octet_count,  # type: ignore[attr-defined]
            ),
        )
        assert expected.sender_info.packet_count == 3
        assert tap.sender_report() == bytes(expected)
    finally:
        await pc.close()


def test_unprotect_gives_pylibsrtps_plaintext_and_refuses_tampered_or_replayed_packets() -> None:
    from media._aiortc import SRTP_UNPROTECT_ADDRESS
    from media._fanout import unprotect

    key = os.urandom(30)
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    reference = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    address = _srtp_address(rx)
    for seq in range(1, 40):
        plain = RtpPacket(
            payload_type=96,
            sequence_number=seq,
            timestamp=seq * 3000,
            ssrc=0x42,
            payload=os.urandom(seq * 30),
        ).serialize()
        protected = tx.protect(plain)
        assert unprotect(SRTP_UNPROTECT_ADDRESS, address, protected) == plain
        assert reference.unprotect(protected) == plain
        if seq % 3 == 0:  # the same packet again is a replay
            assert unprotect(SRTP_UNPROTECT_ADDRESS, address, protected) is None
        protected = tx.protect(RtpPacket(payload_type=96, sequence_number=seq + 1000).serialize())
        tampered = protected[:14] + bytes([protected[14] ^ 1]) + protected[15:]
        assert unprotect(SRTP_UNPROTECT_ADDRESS, address, tampered) is None
    assert unprotect(SRTP_UNPROTECT_ADDRESS, address, b"") is None
    with pytest.raises(TypeError):
        unprotect(SRTP_UNPROTECT_ADDRESS, address, bytearray(b"\x80"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        unprotect(0, address, b"\x80")


def test_a_leg_sends_rtcp_protected_with_its_session_on_its_socket(wires: list[Wire]) -> None:
    w = wire(wires)
    report = RtcpSrPacket(ssrc=w.ssrc, sender_info=RtcpSenderInfo(NTP, 90_000, 10, 12_000))
    plain = bytes(report)

    sent = w.leg.send_rtcp(SRTCP_PROTECT_ADDRESS, plain)

    datagram = w.receiver.recv(2048)
    assert sent == len(datagram) > len(plain)  # SRTCP index and tag appended
    assert w.rx.unprotect_rtcp(datagram) == plain
    # a leg that cannot send (DTLS not connected, ICE closed) sends nothing and says so
    w.leg.set_connected(False)
    assert w.leg.send_rtcp(SRTCP_PROTECT_ADDRESS, plain) == 0
    w.leg.set_connected(True)
    del w.pairs[1]
    assert w.leg.send_rtcp(SRTCP_PROTECT_ADDRESS, plain) == 0
    assert w.receive() == []
    with pytest.raises(ValueError, match="RTCP packet"):
        w.leg.send_rtcp(SRTCP_PROTECT_ADDRESS, b"\x80\xc8\x00")
    with pytest.raises(ValueError, match="RTCP packet"):
        w.leg.send_rtcp(SRTCP_PROTECT_ADDRESS, bytes(MAX_PLAINTEXT + 1))
    with pytest.raises(TypeError):
        w.leg.send_rtcp(SRTCP_PROTECT_ADDRESS, "not bytes")  # type: ignore[arg-type]
