"""Subscriber legs for the C fan-out's tests, wired the way `SenderTap` wires them: a header
template aiortc serialised, libsrtp through pylibsrtp's cffi library, a real non-blocking UDP
socket, and at the other end a socket that unprotects what arrives with the same key."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from pylibsrtp import Policy, Session

from media._aiortc import SRTP_PROTECT_ADDRESS, _srtp_address
from media._fanout import Leg
from media.subscription import header_template

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
NTP = (3_900_000_000 << 32) | 0x12345678  # any 64-bit NTP time
ABS = (NTP >> 14) & 0xFFFFFF


def extensions_map(audio: bool) -> HeaderExtensionsMap:
    xmap = HeaderExtensionsMap()
    uris = [MID, AUDIO_LEVEL] if audio else [MID, ABS_SEND_TIME]
    xmap.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=i + 1, uri=u) for i, u in enumerate(uris)
            ]
        )
    )
    return xmap


@dataclass
class Wire:
    """One leg and the socket at the other end of it."""

    leg: Leg
    ssrc: int
    mid: str
    payload_type: int
    xmap: HeaderExtensionsMap
    sock: socket.socket
    receiver: socket.socket
    rx: Session
    pairs: dict[int, Any]
    repoints: list[Any] = field(default_factory=list)

    def receive(self) -> list[bytes]:
        out = []
        while True:
            try:
                out.append(self.rx.unprotect(self.receiver.recv(2048)))
            except BlockingIOError:
                return out

    def expected(
        self, seq: int, ts: int, marker: bool, payload: bytes, level: int, padding: int
    ) -> bytes:
        packet = RtpPacket(
            payload_type=self.payload_type,
            marker=int(marker),
            sequence_number=seq & 0xFFFF,
            timestamp=ts & 0xFFFFFFFF,
            ssrc=self.ssrc,
            payload=payload,
        )
        packet.padding_size = padding
        packet.extensions.mid = self.mid
        if level >= 0:
            packet.extensions.audio_level = (bool(level & 0x80), level & 0x7F)
        else:
            packet.extensions.abs_send_time = ABS
        data = packet.serialize(self.xmap)
        if padding:  # aiortc pads with random bytes, the SFU with zeros: both are valid RTP
            data = data[:-padding] + bytes(padding - 1) + bytes((padding,))
        return data


def wire(made: list[Wire], *, audio: bool = False, ssrc: int = 0x1234, mid: str = "3") -> Wire:
    key = os.urandom(30)
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    payload_type = 111 if audio else 96
    xmap = extensions_map(audio)
    tap: Any = SimpleNamespace(ssrc=ssrc, extensions_map=xmap, transceiver=SimpleNamespace(mid=mid))
    leg = Leg()
    leg.set_templates(
        *header_template(tap, payload_type, with_level=False),
        *header_template(tap, payload_type, with_level=audio),
    )
    leg.set_srtp(SRTP_PROTECT_ADDRESS, _srtp_address(tx), tx)
    pair = object()
    w = Wire(leg, ssrc, mid, payload_type, xmap, sock, receiver, rx, {1: pair})
    port = receiver.getsockname()[1]

    def repoint(new_pair: Any) -> None:
        w.repoints.append(new_pair)
        if new_pair is None:
            leg.set_socket(None)
        else:
            leg.set_socket(new_pair, sock, "127.0.0.1", port, lambda data: False)

    leg.set_liveness(w.pairs, repoint)
    leg.set_connected(True)
    made.append(w)
    return w
