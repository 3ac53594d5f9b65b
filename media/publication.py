"""A published track: RTP arriving from one participant, forwarded to its subscriptions."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from aiortc import RTCRtpReceiver
from aiortc.rtp import RtpPacket

from ._aiortc import ReceiverTap, forward, ntp_now
from .codecs import starts_keyframe
from .ids import CloseReason, ParticipantId, TrackKind, TrackSource
from .observer import TrackInfo
from .subscription import Subscription

if TYPE_CHECKING:
    from ._fanout import Leg

logger = logging.getLogger(__name__)


class Publication:
    """Media coming in from one participant's publish slot (mediasoup's Producer).

    Its receiver never depacketizes or decodes: each RTP packet is rewritten per
    subscription and sent. A subscription starts at a keyframe; while one waits, the
    publisher is asked for one with PLIs, at most one per `pli_min_interval_s`.
    """

    def __init__(
        self,
        publisher_id: ParticipantId,
        source: TrackSource,
        mid: str,
        receiver: RTCRtpReceiver,
        codec_name: str,
        pli_min_interval_s: float,
    ) -> None:
        self.publisher_id = publisher_id
        self.source = source
        self.kind: TrackKind = source.kind
        self.mid = mid
        self.codec_name = codec_name
        self.muted = False
        self.closed = False
        self.subscriptions: tuple[Subscription, ...] = ()
        self._legs: tuple[Leg, ...] = ()  # the subscriptions' C legs, in the same order
        # some subscription waits for a keyframe (set by _add and Subscription.pause)
        self.gated = False
        self._pli_min_interval_s = pli_min_interval_s
        self._last_pli = -1e9
        self.plis_sent = 0
        self.forwarded_packets = 0
        # the last packet handed to subscriptions, for continuity when a leg pauses
        self.last_seq = 0
        self.last_ts = 0
        self.last_wall = time.monotonic()
        self.tap = ReceiverTap(receiver, self._on_packet, remb_cap=self.weakest_subscriber_bps)

    @property
    def info(self) -> TrackInfo:
        return TrackInfo(self.publisher_id, self.source, self.kind, self.mid, self.muted)

    def __repr__(self) -> str:
        return f"Publication({self.publisher_id!r}, {self.source}, mid={self.mid})"

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, subscription: Subscription) -> None:
        subscription.attach(self)

    def _add(self, subscription: Subscription) -> None:
        # no keyframe request yet: the leg cannot send before its DTLS is up, and a
        # keyframe arriving earlier would be wasted (see _on_packet)
        if subscription not in self.subscriptions:
            self.subscriptions = (*self.subscriptions, subscription)
            self._legs = tuple(s.tap.leg for s in self.subscriptions)
        self.gated = True

    def _remove(self, subscription: Subscription) -> None:
        self.subscriptions = tuple(s for s in self.subscriptions if s is not subscription)
        self._legs = tuple(s.tap.leg for s in self.subscriptions)

    def weakest_subscriber_bps(self) -> int | None:
        """The lowest REMB estimate among this publication's subscribers, if any sent one."""
        estimates = [s.tap.remb_bps for s in self.subscriptions if s.tap.remb_bps is not None]
        return min(estimates) if estimates else None

    def set_muted(self, muted: bool) -> None:
        """A muted publication forwards nothing; unmuting restarts every leg at a keyframe."""
        if muted == self.muted:
            return
        self.muted = muted
        for subscription in self.subscriptions:
            subscription.pause()
        if not muted and self.kind is TrackKind.VIDEO:
            self.request_keyframe()

    def request_keyframe(self) -> None:
        now = time.monotonic()
        if now - self._last_pli < self._pli_min_interval_s:
            return
        if self.tap.request_keyframe():
            self._last_pli = now
            self.plis_sent += 1

    def close(self, reason: CloseReason) -> None:
        """Vacate every subscription (they keep their labels for a reconnecting publisher)."""
        if self.closed:
            return
        self.closed = True
        for subscription in self.subscriptions:
            subscription.detach()
        self.subscriptions = ()
        self._legs = ()
        logger.debug("%r closed (%s)", self, reason)

    # ------------------------------------------------------------------ forwarding

    def _on_packet(self, packet: RtpPacket) -> None:
        """Fan one received packet out to every subscription. The hot path.

        Gated legs are started here in Python (once per leg, at a keyframe); the per-leg
        rewrite, history, SRTP and sendto of every started leg is one C call.
        """
        if self.muted or self.closed or not self._legs:
            return
        sequence_number = packet.sequence_number
        timestamp = packet.timestamp
        if self.gated:
            self._start_legs(sequence_number, timestamp, packet.payload)
        audio_level = packet.extensions.audio_level
        forward(
            self._legs,
            sequence_number,
            timestamp,
            0x80 if packet.marker else 0,
            packet.payload,
            -1
            if audio_level is None
            else (0x80 if audio_level[0] else 0) | (audio_level[1] & 0x7F),
            ntp_now(),
            packet.padding_size,
        )
        self.forwarded_packets += 1
        self.last_seq = sequence_number
        self.last_ts = timestamp
        self.last_wall = time.monotonic()

    def _start_legs(self, sequence_number: int, timestamp: int, payload: bytes) -> None:
        """Start the subscriptions that wait for a keyframe if this packet starts one."""
        keyframe: bool | None = None
        waiting = False
        for subscription in self.subscriptions:
            if subscription.seq_offset is not None:
                continue
            if not subscription.tap.ready():
                waiting = True
                continue
            if keyframe is None:
                keyframe = starts_keyframe(self.codec_name, payload)
            if not keyframe:
                self.request_keyframe()
                waiting = True
                continue
            subscription.start(sequence_number, timestamp, self.tap.clock_rate)
        self.gated = waiting
