"""Counters of a room's media, for logs and a Prometheus exporter."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class MediaStats:
    """Cumulative counters (since the room opened) plus a few gauges."""

    rooms: int = 0
    participants: int = 0
    publications: int = 0
    subscriptions: int = 0
    received_packets: int = 0
    "RTP packets accepted from publishers (RTX repairs included)."
    received_in_c: int = 0
    "Of those, packets the C ingest handled whole (a stream's steady state), not Python."
    forwarded_packets: int = 0
    "RTP packets sent to subscribers (one per leg)."
    forwarded_bytes: int = 0
    "Payload bytes sent to subscribers."
    nacks_sent: int = 0
    "NACK messages the server sent to publishers."
    nacks_received: int = 0
    "Packets subscribers asked to be retransmitted."
    plis_sent: int = 0
    "Keyframe requests the server sent to publishers."
    keyframe_requests_received: int = 0
    "PLI/FIR messages from subscribers."
    send_fallbacks: int = 0
    "Forwarded datagrams queued in asyncio because the UDP socket would block."
    send_errors: int = 0
    "Forwarded datagrams SRTP or the kernel refused (e.g. ICMP unreachable); not resent."
    packets_lost: int = 0
    "Packets lost between publishers and the server (RTCP RR view)."
    rtt_ms: float | None = None
    "Mean round-trip time of the subscriber legs that measured one."

    def add(self, other: MediaStats) -> None:
        rtts = [x for x in (self.rtt_ms, other.rtt_ms) if x is not None]
        for f in fields(self):
            if f.name != "rtt_ms":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.rtt_ms = sum(rtts) / len(rtts) if rtts else None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)
