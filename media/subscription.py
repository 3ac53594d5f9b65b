"""One subscriber's leg: a send m-line that forwards one publication (mediasoup's Consumer)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING

from aiortc import MediaStreamTrack, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from ._aiortc import HeaderTemplate, SenderTap, negotiated_payload_types
from .ids import ParticipantId, TrackKind, TrackSource

if TYPE_CHECKING:
    from .publication import Publication

logger = logging.getLogger(__name__)

_ABS_SENTINELS = (0x123456, 0xABCDEF)
_LEVEL_SENTINELS = ((False, 0x11), (True, 0x6E))


class NeverTrack(MediaStreamTrack):
    """Parks a sender's own RTP loop: the subscription writes RTP into the sender itself.

    A sender without a track would poll every 20 ms; this one waits on a future forever.
    """

    def __init__(self, kind: TrackKind) -> None:
        super().__init__()
        self.kind = kind.value
        self._never: asyncio.Future[None] | None = None

    async def recv(self) -> RtpPacket:  # type: ignore[override]
        self._never = asyncio.get_running_loop().create_future()
        await self._never
        raise MediaStreamError


def header_template(tap: SenderTap, payload_type: int, with_level: bool) -> HeaderTemplate:
    """The RTP header of one leg, serialised by aiortc once, with a hole for the field that varies.

    The header extension layout (MID of this leg, abs-send-time, audio level) differs per leg;
    the C fan-out copies this header and splices sequence number, timestamp, marker and the
    variable extension bytes (abs-send-time for video, the audio level for audio) per packet.
    """
    mid = tap.transceiver.mid

    def build(abs_send_time: int, level: tuple[bool, int] | None) -> bytes:
        packet = RtpPacket(payload_type=payload_type, ssrc=tap.ssrc)
        packet.extensions.mid = mid
        packet.extensions.abs_send_time = abs_send_time
        packet.extensions.audio_level = level
        return packet.serialize(tap.extensions_map)

    first = build(_ABS_SENTINELS[0], _LEVEL_SENTINELS[0] if with_level else None)
    second = build(_ABS_SENTINELS[1], _LEVEL_SENTINELS[1] if with_level else None)
    diff = [i for i in range(len(first)) if first[i] != second[i]]
    if not diff:
        return first, 0, 0
    start, end = diff[0], diff[-1] + 1
    if end - start not in (1, 3):  # one field only: audio m-lines carry no abs-send-time
        raise ValueError(f"unexpected header extension layout on mid {mid}")
    return first, start, end - start


class Subscription:
    """A subscriber's send slot and whatever publication currently feeds it.

    Life cycle: created vacant with its m-line; `attach(publication)` makes it forward that
    publication from the next keyframe; `detach()` vacates it but keeps `publisher_id` and
    `source`, so a reconnecting publisher gets the same slot back without renegotiation.
    Sequence numbers and timestamps of the leg never go backwards across re-attachments:
    new constant offsets continue from the last packet sent. `close()` is final.
    """

    def __init__(
        self, subscriber_id: ParticipantId, kind: TrackKind, transceiver: RTCRtpTransceiver
    ) -> None:
        self.subscriber_id = subscriber_id
        self.kind = kind
        self.transceiver = transceiver
        self.tap = SenderTap(transceiver)
        self.tap.on_keyframe_request(self._on_keyframe_request)
        self.publisher_id: ParticipantId | None = None
        self.source: TrackSource | None = None
        self.publication: Publication | None = None
        self.closed = False
        # constant offsets from the publication's numbering to this leg's; None = gated
        self.seq_offset: int | None = None
        self._ts_offset = 0
        # where the previous source left off (continuity across re-attachments)
        self._last_seq: int | None = None
        self._last_ts = 0
        self._last_wall = 0.0
        self._clock_rate = 48000 if kind is TrackKind.AUDIO else 90000
        self._templates_set = False

    @property
    def mid(self) -> str | None:
        return self.transceiver.mid

    @property
    def vacant(self) -> bool:
        return self.publication is None

    def __repr__(self) -> str:
        return (
            f"Subscription({self.subscriber_id!r}, mid={self.mid}, "
            f"source={self.publisher_id}/{self.source}, attached={not self.vacant})"
        )

    # ------------------------------------------------------------------ life cycle

    def attach(self, publication: Publication) -> None:
        """Forward `publication` on this slot, starting at its next keyframe."""
        if self.publication is not None:
            self.detach()
        self.publisher_id = publication.publisher_id
        self.source = publication.source
        self.publication = publication
        self.seq_offset = None
        publication._add(self)

    def detach(self) -> None:
        """Stop forwarding; remember where the leg's numbering stands."""
        publication = self.publication
        if publication is None:
            return
        self.pause()
        publication._remove(self)
        self.publication = None

    def pause(self) -> None:
        """Stop sending until the next keyframe (mute, or a source change)."""
        publication = self.publication
        if self.seq_offset is not None and publication is not None:
            self._last_seq = (publication.last_seq + self.seq_offset) & 0xFFFF
            self._last_ts = (publication.last_ts + self._ts_offset) & 0xFFFFFFFF
            self._last_wall = publication.last_wall
        self.seq_offset = None
        self.tap.leg.stop()
        if publication is not None:
            publication.gated = True

    def close(self) -> None:
        self.detach()
        self.closed = True

    def _on_keyframe_request(self) -> None:
        if self.publication is not None:
            self.publication.request_keyframe()

    # ------------------------------------------------------------------ forwarding

    def start(self, sequence_number: int, timestamp: int, clock_rate: int) -> None:
        """Fix this leg's offsets on the packet that starts a keyframe.

        The caller checked that the packet starts a keyframe and that `tap.ready()`.
        """
        if not self._templates_set:
            payload_type, _ = negotiated_payload_types(self.transceiver)
            with_level = self.kind is TrackKind.AUDIO
            self.tap.set_templates(
                header_template(self.tap, payload_type, with_level=False),
                header_template(self.tap, payload_type, with_level=with_level),
            )
            self._templates_set = True
        self._clock_rate = clock_rate
        if self._last_seq is None:
            self.seq_offset = (random.getrandbits(15) - sequence_number) & 0xFFFF
            self._ts_offset = random.getrandbits(32)
        else:
            # continue after the previous source, leaving one sequence number as a gap
            # the subscriber may NACK harmlessly, and time moving on by the wall clock
            elapsed = max(time.monotonic() - self._last_wall, 0.001)
            next_ts = self._last_ts + max(int(elapsed * clock_rate), 1)
            self.seq_offset = (self._last_seq + 1 - sequence_number) & 0xFFFF
            self._ts_offset = (next_ts - timestamp) & 0xFFFFFFFF
        self.tap.leg.start(self.seq_offset, self._ts_offset)
