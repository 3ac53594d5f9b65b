"""A lean reading of the RTCP subscribers send: receiver reports, PLI and REMB.

Every subscriber sends a compound RTCP packet about once a second per received stream; with
dozens of legs, aiortc's `RtcpPacket.parse` (a dataclass per packet and per report block)
plus its routing and coroutine per packet was a sizeable share of an SFU's CPU with nothing
else to do. `scan` reads the common compounds into plain tuples; anything else (sender
reports, NACK, FIR, BYE, padding, unknown types, malformed data) returns None, and the
caller hands the whole datagram to aiortc's parser, so what is read here is always exactly
what aiortc would have read (tests/media/test_rtcpscan.py checks that against it).
"""

from __future__ import annotations

import struct
from typing import Any, Final

from aiortc.rtp import RtcpSdesPacket, unpack_remb_fci

RR: Final = 201
"""(RR, packet_ssrc, report): report = (ssrc, fraction_lost, packets_lost, highest_sequence,
jitter, lsr, dlsr), as `RtcpReceiverInfo` has them."""
PLI: Final = 1
"(PLI, sender_ssrc, media_ssrc)."
REMB: Final = 15
"(REMB, bitrate, ssrcs)."

_SDES: Final = 202
_PSFB: Final = 206
_HEADER = struct.Struct("!BBH")
_BLOCK = struct.Struct("!LBBHLLLL")  # packets lost split as 1 + 2 bytes (24-bit signed)
_SSRC = struct.Struct("!L")
_TWO_SSRC = struct.Struct("!LL")

Item = tuple[int, int, Any]


def scan(data: bytes) -> list[Item] | None:
    """The items of a compound made only of RR, SDES, PLI and REMB; None for anything else."""
    items: list[Item] = []
    pos, size = 0, len(data)
    if size == 0:
        return None
    while pos < size:
        if size < pos + 4:
            return None
        first, packet_type, length = _HEADER.unpack_from(data, pos)
        if first >> 5 != 4:  # version 2 and no padding
            return None
        count = first & 0x1F
        start, end = pos + 4, pos + 4 + 4 * length
        if end > size:
            return None
        pos = end
        if packet_type == RR:
            if end - start != 4 + 24 * count:
                return None
            (ssrc,) = _SSRC.unpack_from(data, start)
            for block in range(start + 4, end, 24):
                source, fraction, lost_hi, lost_lo, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(
                    data, block
                )
                lost = (lost_hi << 16) | lost_lo
                if lost_hi & 0x80:
                    lost -= 1 << 24
                items.append((RR, ssrc, (source, fraction, lost, highest, jitter, lsr, dlsr)))
        elif packet_type == _SDES:
            try:  # read for its validity only: a malformed one makes aiortc drop the compound
                RtcpSdesPacket.parse(data[start:end], count)
            except ValueError:
                return None
        elif packet_type == _PSFB and count == PLI and end - start == 8:
            sender, media = _TWO_SSRC.unpack_from(data, start)
            items.append((PLI, sender, media))
        elif packet_type == _PSFB and count == REMB and end - start >= 16:
            remb = _remb(data[start + 8 : end])
            if remb is None:
                return None
            items.append((REMB, *remb))
        else:
            return None
    return items


def _remb(fci: bytes) -> tuple[int, tuple[int, ...]] | None:
    """aiortc's own REMB reading, or None where it would raise (the caller then leaves the
    compound to aiortc, which drops or logs it as before)."""
    try:
        bitrate, ssrcs = unpack_remb_fci(fci)
    except (ValueError, struct.error):
        return None
    return bitrate, tuple(ssrcs)
