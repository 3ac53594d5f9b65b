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

    In the steady state (not muted, nobody waiting for a keyframe) the C ingest forwards the
    packets to `tap.fast.legs` without calling `_on_packet`; the counters and the last
    forwarded packet live in `tap.fast` for both paths.
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
        self._muted = False
        self.closed = False
        self.subscriptions: tuple[Subscription, ...] = ()
        self._legs: tuple[Leg, ...] = ()  # the subscriptions' C legs, in the same order
        self._gated = False
        self._pli_min_interval_s = pli_min_interval_s
        self._last_pli = -1e9
        self.plis_sent = 0
        self.tap = ReceiverTap(receiver, self._on_packet, remb_cap=self.weakest_subscriber_bps)
        self._fast = self.tap.fast
        self._fast.last_wall = time.monotonic()
        self._sync_fast()

    @property
    def info(self) -> TrackInfo:
        return TrackInfo(self.publisher_id, self.source, self.kind, self.mid, self.muted)

    def __repr__(self) -> str:
        return f"Publication({self.publisher_id!r}, {self.source}, mid={self.mid})"

    @property
    def muted(self) -> bool:
        """A muted publication forwards nothing (see `set_muted`)."""
        return self._muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self._muted = value
        self._sync_fast()

    @property
    def gated(self) -> bool:
        """Some subscription waits for a keyframe (set by _add and Subscription.pause)."""
        return self._gated

    @gated.setter
    def gated(self, value: bool) -> None:
        self._gated = value
        self._sync_fast()

    def _sync_fast(self) -> None:
        # C forwards only what needs no decision: muted, closed and gated take _on_packet
        open_ = not (self._muted or self.closed or self._gated)
        self._fast.legs = self._legs if open_ else None

    @property
    def forwarded_packets(self) -> int:
        return self._fast.forwarded

    @property
    def last_seq(self) -> int:
        """The last packet handed to subscriptions, for continuity when a leg pauses."""
        return self._fast.last_seq

    @property
    def last_ts(self) -> int:
        return self._fast.last_ts

    @property
    def last_wall(self) -> float:
        return self._fast.last_wall

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, subscription: Subscription) -> None:
        subscription.attach(self)

    def _add(self, subscription: Subscription) -> None:
        # no keyframe request yet: the leg cannot send before its DTLS is up, and a
        # keyframe arriving earlier would be wasted (see _on_packet)
        if subscription not in self.subscriptions:
            self.subscriptions = (*self.subscriptions, subscription)
            self._legs = tuple(s.tap.leg for s in self.subscriptions)
        self.gated = True  # syncs the C path's legs

    def _remove(self, subscription: Subscription) -> None:
        self.subscriptions = tuple(s for s in self.subscriptions if s is not subscription)
        self._legs = tuple(s.tap.leg for s in self.subscriptions)
        self._sync_fast()

    def weakest_subscriber_bps(self) -> int | None:
        """The lowest REMB estimate among this publication's subscribers, if any sent one."""
        estimates = [s.tap.remb_bps for s in self.subscriptions if s.tap.remb_bps is not None]
        return min(estimates) if estimates else None

    def set_muted(self, muted: bool) -> None:
        """A muted publication forwards nothing; unmuting restarts every leg at a keyframe."""
        if muted == self.muted:
            return
        self.muted = muted  # syncs the C path's legs
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
        self._sync_fast()
        logger.debug("%r closed (%s)", self, reason)

    # ------------------------------------------------------------------ forwarding

    def _on_packet(self, packet: RtpPacket) -> None:
        """Fan one received packet out to every subscription, when C did not (see the class).

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
        fast = self._fast
        fast.forwarded += 1
        fast.last_seq = sequence_number
        fast.last_ts = timestamp
        fast.last_wall = time.monotonic()

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
