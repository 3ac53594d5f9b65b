"""Synthetic clients: aiortc peers that behave like the browser app, without encoding or decoding.

* `make_clips(directory)` encodes a short VP8 + Opus clip once (PyAV, lavfi test source).
* `ClipTrack` sends a clip's pre-encoded `av.Packet`s in real time, looped, and honours
  keyframe requests by jumping to the clip's next keyframe (a pre-encoded source cannot
  make one).
* `SyntheticClient` answers server offers (`answer(offer)`), attaches its clip tracks to the
  publish slots, and counts the RTP arriving on each subscribe slot through a lean receive
  path (NACKs and RTX still work, nothing is decoded).

How offers reach the client is not its business: `LocalNegotiator` hands them over in
process; a Socket.IO transport can call `SyntheticClient.answer` the same way.
"""

from __future__ import annotations

import asyncio
import fractions
import random
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtp import RtpPacket, is_rtcp

from media import Offer, ParticipantId, RoomId, Slot, TrackKind, TrackSource
from media._aiortc import (
    ReceiverTap,
    drop_incoming_rtp,
    drop_outgoing_rtp,
    negotiated_codec_names,
    negotiated_payload_types,
    observe_outgoing_rtp,
    restrict_host_addresses,
    route_keyframe_requests,
)
from media.codecs import starts_keyframe

VIDEO_CLIP = "clip_vp8.ivf"


def payload_key(payload: bytes) -> int:
    """Identifies a payload across processes (`hash()` is salted per process)."""
    return zlib.crc32(payload) << 16 | len(payload)


AUDIO_CLIP = "clip_opus.ogg"


def make_clips(directory: Path, seconds: float = 3.0, gop_s: float = 1.0) -> tuple[Path, Path]:
    """Encode a ~1 Mbit/s 640x480@30 VP8 clip (keyframe every `gop_s`) and an Opus clip."""
    directory.mkdir(parents=True, exist_ok=True)
    video, audio = directory / VIDEO_CLIP, directory / AUDIO_CLIP
    if not video.exists():
        source = av.open(
            f"testsrc2=size=640x480:rate=30:duration={seconds},noise=alls=10:allf=t",
            format="lavfi",
        )
        out = av.open(str(video), mode="w", format="ivf")
        stream: Any = out.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.bit_rate = 1_000_000
        stream.gop_size = int(30 * gop_s)
        stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        for frame in source.decode(video=0):
            frame.pict_type = av.video.frame.PictureType.NONE
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        out.close()
        source.close()
    if not audio.exists():
        source = av.open(f"sine=frequency=440:sample_rate=48000:duration={seconds}", format="lavfi")
        out = av.open(str(audio), mode="w", format="ogg")
        audio_stream: Any = out.add_stream("libopus", rate=48000)
        stream = audio_stream
        stream.bit_rate = 48000
        stream.options = {"application": "voip", "frame_duration": "20"}
        for audio_frame in source.decode(audio=0):
            for packet in stream.encode(audio_frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        out.close()
        source.close()
    return video, audio


def make_h264_clip(directory: Path, seconds: float = 3.0, gop_s: float = 1.0) -> Path:
    """Constrained-baseline H.264 in MPEG-TS (Annex B start codes, as aiortc's packer needs)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "clip_h264.ts"
    if not path.exists():
        source: Any = av.open(f"testsrc2=size=640x480:rate=30:duration={seconds}", format="lavfi")
        out = av.open(str(path), mode="w", format="mpegts")
        stream: Any = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.bit_rate = 1_000_000
        stream.gop_size = int(30 * gop_s)
        stream.options = {
            "profile": "baseline",
            "tune": "zerolatency",
            "preset": "veryfast",
            "x264-params": "bframes=0",
        }
        for frame in source.decode(video=0):
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        out.close()
        source.close()
    return path


def offer_from_wire(sdp: str, slots: Iterable[dict[str, Any]]) -> Offer:
    """The server's `offer` event payload (docs/PROTOCOL.md) as a media Offer."""
    return Offer(
        sdp,
        [
            Slot(
                s["mid"],
                TrackKind(s["kind"]),
                s["direction"],
                None if s["source"] is None else TrackSource(s["source"]),
                s["publisher_id"],
            )
            for s in slots
        ],
    )


@dataclass
class Clip:
    """A demuxed clip: (payload, pts, keyframe) per packet, pts starting at 0."""

    kind: str
    time_base: fractions.Fraction
    packets: list[tuple[bytes, int, bool]]
    period: int

    @classmethod
    def load(cls, path: Path) -> Clip:
        container = av.open(str(path))
        is_video = bool(container.streams.video)
        stream = container.streams.video[0] if is_video else container.streams.audio[0]
        time_base = stream.time_base  # read before close(): PyAV frees the stream then
        assert time_base is not None and time_base > 0
        items = [
            (bytes(p), int(p.pts), bool(p.is_keyframe))
            for p in container.demux(stream)
            if p.size and p.pts is not None
        ]
        container.close()
        first = items[0][1]
        step = items[1][1] - items[0][1]
        packets = [(data, pts - first, key) for data, pts, key in items]
        kind = "video" if is_video else "audio"
        return cls(kind, time_base, packets, packets[-1][1] + step)


class ClipTrack(MediaStreamTrack):
    """Sends a pre-encoded clip as `av.Packet`s: real-time paced, looped, pts monotonic."""

    def __init__(self, clip: Clip) -> None:
        super().__init__()
        self.kind = clip.kind
        self._clip = clip
        self._index = 0
        self._lap = 0
        self._start: float | None = None
        self._keyframe_wanted = False
        self.sent = 0
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._keyframe_wanted = True

    def _advance(self) -> None:
        self._index += 1
        if self._index == len(self._clip.packets):
            self._index, self._lap = 0, self._lap + 1

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        clip = self._clip
        jumped = False
        if self._keyframe_wanted:
            self._keyframe_wanted = False
            jumped = not clip.packets[self._index][2]
            while not clip.packets[self._index][2]:
                self._advance()
        data, pts, _ = clip.packets[self._index]
        pts += self._lap * clip.period
        at = float(pts * clip.time_base)
        if self._start is None or jumped:
            # A browser encoder answers a PLI with a keyframe now, not at the clip's next GOP
            # boundary: skipping ahead re-anchors the pacing clock so the keyframe goes out
            # at once (pts stay monotonic; the timeline just moves forward).
            self._start = time.monotonic() - at
        delay = self._start + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self._advance()
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = clip.time_base
        self.sent += 1
        return packet


@dataclass
class Inbound:
    """What arrived on one subscribe slot of a synthetic client."""

    slot: Slot
    packets: int = 0
    octets: int = 0
    first_at: float | None = None
    first_is_keyframe: bool | None = None
    sequence_numbers: set[int] = field(default_factory=set)
    payloads: list[bytes] = field(default_factory=list)
    arrivals: list[tuple[int, float]] = field(default_factory=list)
    "(payload_key(payload), time.time()) per packet when latency is recorded."


class SyntheticClient:
    """An aiortc peer standing in for the browser app of one participant."""

    def __init__(
        self,
        participant_id: str,
        video: Clip | None,
        audio: Clip | None,
        *,
        host_addresses: Iterable[str] = ("127.0.0.1",),
        publish: Iterable[TrackSource] = (TrackSource.MICROPHONE, TrackSource.CAMERA),
        screen: Clip | None = None,
        loss: float = 0.0,
        send_loss: float = 0.0,
        record_payloads: bool = False,
        record_arrivals: bool = False,
        record_sent: bool = False,
    ) -> None:
        self.id = ParticipantId(participant_id)
        # max-bundle: aiortc's "balanced" answerer leaves a second m-line of a kind on a
        # transport it then discards (browsers bundle correctly either way)
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.host_addresses = list(host_addresses)
        self.tracks: dict[TrackSource, ClipTrack] = {}
        for source, clip in (
            (TrackSource.MICROPHONE, audio),
            (TrackSource.CAMERA, video),
            (TrackSource.SCREEN, screen),
        ):
            if clip is not None and (source in set(publish) or source is TrackSource.SCREEN):
                self.tracks[source] = ClipTrack(clip)
        self.share_screen = False
        self.inbound: dict[str, Inbound] = {}
        self.offers: list[Offer] = []
        self.loss = loss
        self.send_loss = send_loss
        "Share of the published video's RTP dropped before the wire (RTX still repairs it)."
        self.record_payloads = record_payloads
        self.record_arrivals = record_arrivals
        self.record_sent = record_sent
        self.sent_payloads: dict[int, float] = {}
        "hash(payload) -> time.time() at send, for the publisher's video, when recorded."
        self._tapped: set[int] = set()
        self._observed = False
        self._lossy = False
        self._sent_pt: int | None = None
        self._random = random.Random(participant_id)

    async def answer(self, offer: Offer) -> str:
        """Apply a server offer the way the browser app does and return the answer SDP."""
        self.offers.append(offer)
        pc = self.pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        for transceiver in pc.getTransceivers():
            slot = offer.slot(transceiver.mid or "")
            if slot is None:
                continue
            if slot.direction == "publish":
                self._attach(transceiver, slot)
            else:
                transceiver.direction = "recvonly"
                self._count(transceiver, slot)
        restrict_host_addresses(pc, self.host_addresses)
        await pc.setLocalDescription(await pc.createAnswer())
        if self.record_sent and not self._observed and pc.getTransceivers():
            self._observed = True
            observe_outgoing_rtp(pc.getTransceivers()[0].sender.transport, self._on_sent)
        if self.send_loss and not self._lossy and pc.getTransceivers():
            self._lossy = True
            drop_outgoing_rtp(pc.getTransceivers()[0].sender.transport, self._drops)
        return pc.localDescription.sdp

    def _attach(self, transceiver: RTCRtpTransceiver, slot: Slot) -> None:
        assert slot.source is not None
        track = self.tracks.get(slot.source)
        if slot.source is TrackSource.SCREEN and not self.share_screen:
            track = None
        if track is None:
            transceiver.direction = "inactive"
            return
        transceiver.direction = "sendonly"
        if transceiver.sender.track is not track:
            transceiver.sender.replaceTrack(track)
            route_keyframe_requests(transceiver.sender, track.request_keyframe)

    def _count(self, transceiver: RTCRtpTransceiver, slot: Slot) -> None:
        mid = transceiver.mid or ""
        inbound = self.inbound.get(mid)
        if inbound is None:
            inbound = self.inbound[mid] = Inbound(slot)
        else:
            inbound.slot = slot
        if id(transceiver.receiver) in self._tapped:
            return
        self._tapped.add(id(transceiver.receiver))
        codec = "opus"
        if transceiver.kind == "video":
            codec = "H264" if "H264" in " ".join(negotiated_codec_names(transceiver)) else "VP8"

        def on_packet(packet: RtpPacket) -> None:
            now = time.time()
            if inbound.first_at is None:
                inbound.first_at = now
                inbound.first_is_keyframe = starts_keyframe(codec, packet.payload)
            inbound.packets += 1
            inbound.octets += len(packet.payload)
            inbound.sequence_numbers.add(packet.sequence_number)
            if self.record_payloads:
                inbound.payloads.append(packet.payload)
            if self.record_arrivals:
                inbound.arrivals.append((payload_key(packet.payload), now))

        receiver: RTCRtpReceiver = transceiver.receiver
        # no REMB: browsers rate-limit theirs, aiortc's estimator would send one per
        # packet whenever it sees overuse (this shared machine) and load the SFU with RTCP
        ReceiverTap(receiver, on_packet, remb=False)
        if self.loss:
            loss, rng = self.loss, self._random
            drop_incoming_rtp(receiver, lambda p: p.payload_type < 100 and rng.random() < loss)

    def _drops(self, data: bytes) -> bool:
        return (
            not is_rtcp(data)
            and len(data) >= 12
            and data[1] & 0x7F == self._video_pt()
            and self._random.random() < self.send_loss
        )

    def _video_pt(self) -> int | None:
        if self._sent_pt is None:
            camera = self.tracks.get(TrackSource.CAMERA)
            for t in self.pc.getTransceivers():
                if camera is not None and t.sender.track is camera:
                    self._sent_pt = negotiated_payload_types(t)[0]
        return self._sent_pt

    def _on_sent(self, data: bytes) -> None:
        if is_rtcp(data) or len(data) < 12:
            return
        if data[1] & 0x7F == self._video_pt():
            self.sent_payloads[payload_key(RtpPacket.parse(data).payload)] = time.time()

    def received(self, publisher_id: str, source: TrackSource) -> Inbound | None:
        """What arrived on the slot that currently carries `publisher_id`'s `source`."""
        for inbound in self.inbound.values():
            if inbound.slot.publisher_id == publisher_id and inbound.slot.source == source:
                return inbound
        return None

    async def close(self) -> None:
        await self.pc.close()
        await asyncio.sleep(0.05)  # let aiortc's connect task see the closed ICE transport


class LocalNegotiator:
    """A Negotiator that hands offers to in-process synthetic clients."""

    def __init__(self) -> None:
        self.clients: dict[str, SyntheticClient] = {}
        self.rounds = 0

    def add(self, client: SyntheticClient) -> SyntheticClient:
        self.clients[client.id] = client
        return client

    async def exchange(self, room_id: RoomId, participant_id: ParticipantId, offer: Offer) -> str:
        self.rounds += 1
        return await self.clients[participant_id].answer(offer)
