"""RTP packets for parser parity tests: well-formed ones with every extension aiortc reads,
CSRCs, padding, and malformed ones (truncated, bad padding, a byte changed anywhere)."""

from __future__ import annotations

import random
import struct
from typing import Any

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket

URIS = {
    1: "urn:ietf:params:rtp-hdrext:sdes:mid",
    2: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    3: "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    4: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    5: "urn:ietf:params:rtp-hdrext:toffset",
    10: "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    11: "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
}
WELL_FORMED = 300
"`samples` starts with this many well-formed packets."
CRASHES_AIORTC = object()
"What `parsed` returns when aiortc's parser fails with struct.error (not ValueError)."


def extensions_map() -> HeaderExtensionsMap:
    xmap = HeaderExtensionsMap()
    xmap.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=i, uri=uri) for i, uri in URIS.items()
            ]
        )
    )
    return xmap


def samples(xmap: HeaderExtensionsMap, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(WELL_FORMED):
        packet = RtpPacket(
            payload_type=rng.choice([96, 97, 111]),
            marker=rng.randint(0, 1),
            sequence_number=rng.randrange(65536),
            timestamp=rng.randrange(2**32),
            ssrc=rng.randrange(2**32),
            payload=rng.randbytes(rng.randrange(0, 200)),
        )
        packet.extensions = HeaderExtensions(
            abs_send_time=rng.choice([None, rng.randrange(2**24)]),
            audio_level=rng.choice([None, (bool(i % 2), rng.randrange(128))]),
            mid=rng.choice([None, "0", "audio"]),
            transport_sequence_number=rng.choice([None, rng.randrange(65536)]),
            transmission_offset=rng.choice([None, rng.randrange(-(2**23), 2**23)]),
            rtp_stream_id=rng.choice([None, "hi"]),
            repaired_rtp_stream_id=rng.choice([None, "lo"]),
        )
        if i % 5 == 0:
            packet.csrc = [1, 2]  # the lean parsers leave these to aiortc's
        data = packet.serialize(xmap)
        if i % 7 == 0:  # padded, as RTX probes are
            data = bytes([data[0] | 0x20]) + data[1:] + b"\x00\x00\x03"
        out.append(data)
    # malformed: truncated anywhere, bad padding, every byte flipped somewhere
    for data in list(out[:40]):
        out.append(data[: rng.randrange(len(data))])
        out.append(bytes([data[0] | 0x20]) + data[1:-1] + b"\xff")
        position = rng.randrange(len(data))
        out.append(data[:position] + bytes([rng.randrange(256)]) + data[position + 1 :])
    return out


def fields(packet: RtpPacket) -> tuple[Any, ...]:
    return (
        packet.version,
        packet.marker,
        packet.payload_type,
        packet.sequence_number,
        packet.timestamp,
        packet.ssrc,
        packet.csrc,
        packet.extensions,
        packet.payload,
        packet.padding_size,
    )


def parsed(data: bytes, xmap: HeaderExtensionsMap) -> Any:
    """aiortc's reading of `data`: its fields, ValueError, or CRASHES_AIORTC."""
    try:
        return fields(RtpPacket.parse(data, xmap))
    except ValueError:
        return ValueError
    except struct.error:
        return CRASHES_AIORTC
