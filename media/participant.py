"""The server side of one browser connection: one RTCPeerConnection, its slots and its offers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp

from ._aiortc import restrict_host_addresses, tolerate_consent_losses
from .codecs import pin_codecs, required_mime_type
from .config import MediaConfig
from .errors import (
    InvalidCandidateError,
    InvalidSdpError,
    MediaError,
    NegotiationError,
    ParticipantClosedError,
    UnsupportedCodecError,
)
from .ids import CloseReason, ParticipantId, RoomId, TrackKind, TrackSource
from .negotiator import Negotiator
from .offer import Offer, Slot
from .publication import Publication
from .subscription import NeverTrack, Subscription

if TYPE_CHECKING:
    from .room import Room

logger = logging.getLogger(__name__)

MAX_SDP_BYTES = 128 * 1024
MAX_CANDIDATE_BYTES = 1024
_SENDING = ("recvonly", "sendrecv")  # our direction when the client sends on a publish slot


class Participant:
    """One participant's connection to the room: publish slots in, subscriptions out.

    Created by `Room.connect`, never directly. The server is the only SDP offerer: every
    change becomes a server offer, negotiated through the `Negotiator` one round at a
    time; requests that arrive during a round are coalesced into one more round.
    `close()` is idempotent; after it every method raises `ParticipantClosedError`.
    """

    def __init__(
        self,
        room: Room,
        participant_id: ParticipantId,
        metadata: Mapping[str, object],
        config: MediaConfig,
        negotiator: Negotiator,
    ) -> None:
        self.id = participant_id
        self.room_id: RoomId = room.id
        self.metadata = dict(metadata)
        self.close_reason: CloseReason | None = None
        self._room = room
        self._config = config
        self._negotiator = negotiator
        self._pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=list(config.ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
            )
        )
        # publish slots, in m-line order: what the client sends us
        self._publish_slots: dict[TrackSource, RTCRtpTransceiver] = {}
        self._muted: dict[TrackSource, bool] = {}
        # subscribe slots, in m-line order: what we send the client
        self.subscriptions: list[Subscription] = []
        self._negotiation_lock = asyncio.Lock()
        self._negotiation_pending = False
        self.negotiations = 0
        self._closed = False
        self._closed_event = asyncio.Event()
        self._add_publish_slot(TrackSource.MICROPHONE)
        self._add_publish_slot(TrackSource.CAMERA)
        self._pc.on("connectionstatechange", self._on_connection_state)

    def __repr__(self) -> str:
        return f"Participant({self.room_id!r}/{self.id!r}, {id(self):#x})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connection_state(self) -> str:
        return self._pc.connectionState

    def is_muted(self, source: TrackSource) -> bool:
        return self._muted.get(source, False)

    # ------------------------------------------------------------------ public API

    async def add_ice_candidate(
        self,
        candidate: str | None,
        sdp_mid: str | None = None,
        sdp_mline_index: int | None = None,
    ) -> None:
        """Add a candidate the client trickled; an empty one means end-of-candidates.

        The server's own candidates are all in its offers (aiortc gathers before offering).
        """
        self._check_open()
        transceivers = self._pc.getTransceivers()
        mids = [t.mid for t in transceivers if t.mid is not None]
        if not mids:
            raise InvalidCandidateError("no offer was negotiated yet")
        if sdp_mid is None and sdp_mline_index is None:
            raise InvalidCandidateError("a candidate needs sdpMid or sdpMLineIndex")
        if sdp_mid is not None and sdp_mid not in mids:
            raise InvalidCandidateError(f"no m-line with mid {sdp_mid!r}")
        if (
            sdp_mid is None
            and sdp_mline_index is not None
            and (not isinstance(sdp_mline_index, int) or not 0 <= sdp_mline_index < len(mids))
        ):
            raise InvalidCandidateError(f"no m-line with index {sdp_mline_index!r}")
        if not candidate:
            await self._pc.addIceCandidate(None)
            return
        if not isinstance(candidate, str) or len(candidate) > MAX_CANDIDATE_BYTES:
            raise InvalidCandidateError("malformed candidate")
        text = candidate.removeprefix("a=").removeprefix("candidate:")
        try:
            parsed = aiortc_sdp.candidate_from_sdp(text)
        except Exception as exc:
            raise InvalidCandidateError(f"malformed candidate: {text[:80]!r}") from exc
        # every m-line is bundled on the first one's transport
        parsed.sdpMid = mids[0]
        parsed.sdpMLineIndex = 0
        try:
            await self._pc.addIceCandidate(parsed)
        except Exception as exc:
            raise InvalidCandidateError(f"candidate refused: {exc}") from exc

    async def set_muted(self, source: TrackSource, muted: bool) -> None:
        """Mute or unmute what the participant publishes from `source` (server enforced)."""
        self._check_open()
        source = TrackSource(source)
        self._muted[source] = bool(muted)
        await self._room._set_muted(self, source, bool(muted))

    async def request_screen_share(self) -> None:
        """Offer the client a publish slot for its screen (once; reused afterwards)."""
        self._check_open()
        if TrackSource.SCREEN not in self._publish_slots:
            self._add_publish_slot(TrackSource.SCREEN)
        await self.negotiate()

    async def stop_screen_share(self) -> None:
        """The screen publication ends; the client stops sending on that slot."""
        self._check_open()
        await self._room._unpublish(self, TrackSource.SCREEN, CloseReason.CLIENT_LEAVE)

    async def renegotiate(self) -> None:
        """Run one more offer/answer round (e.g. the client has attached a track since)."""
        await self.negotiate()

    async def close(self, reason: CloseReason) -> None:
        """Close the connection. Idempotent; the room calls it, applications use `Room.leave`."""
        if self._closed:
            return
        self._closed = True
        self.close_reason = reason
        for subscription in self.subscriptions:
            subscription.close()
        try:
            await self._pc.close()
        except Exception:
            logger.exception("%r: closing the peer connection failed", self)
        self._closed_event.set()
        logger.info("%r closed (%s)", self, reason)

    # ------------------------------------------------------------------ negotiation

    async def negotiate(self) -> None:
        """Make the client's view match the server's: one offer/answer round, coalesced."""
        self._check_open()
        self._negotiation_pending = True
        async with self._negotiation_lock:
            while self._negotiation_pending:
                self._check_open()
                self._negotiation_pending = False
                try:
                    await self._negotiate_once()
                except MediaError:
                    raise
                except Exception as exc:
                    # aiortc refusing to act on a connection closed meanwhile, or a bug:
                    # either way callers only ever see MediaErrors
                    self._check_open()
                    raise NegotiationError(f"negotiation with {self.id!r} failed: {exc!r}") from exc

    async def _negotiate_once(self) -> None:
        pc = self._pc
        if self._config.host_addresses is not None:
            restrict_host_addresses(pc, self._config.host_addresses)
        tolerate_consent_losses(pc)
        await pc.setLocalDescription(await pc.createOffer())
        local = pc.localDescription
        offer = Offer(sdp=local.sdp, slots=self.slots())
        try:
            answer = await asyncio.wait_for(
                self._negotiator.exchange(self.room_id, self.id, offer),
                self._config.negotiation_timeout_s,
            )
        except TimeoutError as exc:
            raise NegotiationError(
                f"participant {self.id!r} did not answer the offer within "
                f"{self._config.negotiation_timeout_s:g} s"
            ) from exc
        except MediaError:
            raise
        except Exception as exc:
            raise NegotiationError(f"the offer to {self.id!r} failed: {exc}") from exc
        self._check_open()
        self._check_answer(answer, local.sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except Exception as exc:
            raise InvalidSdpError(f"the answer of {self.id!r} was refused: {exc}") from exc
        self.negotiations += 1
        # synchronously, before aiortc's connect task starts the receivers
        self._room._sync_publications(self)

    def _check_answer(self, answer: object, offer_sdp: str) -> None:
        """Refuse answers aiortc would choke on, before they touch the peer connection."""
        if not isinstance(answer, str):
            raise InvalidSdpError("the answer is not an SDP string")
        if len(answer) > MAX_SDP_BYTES:
            raise InvalidSdpError(f"the answer is larger than {MAX_SDP_BYTES} bytes")
        try:
            parsed = aiortc_sdp.SessionDescription.parse(answer)
            offered = aiortc_sdp.SessionDescription.parse(offer_sdp)
        except Exception as exc:
            raise InvalidSdpError(f"the answer is not valid SDP: {exc!r}"[:200]) from exc
        if [m.rtp.muxId for m in parsed.media] != [m.rtp.muxId for m in offered.media]:
            raise InvalidSdpError("the answer's m-lines do not match the offer's")
        for media in parsed.media:
            if media.kind not in ("audio", "video"):
                raise InvalidSdpError(f"unexpected {media.kind!r} m-line in the answer")
            if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
                raise InvalidSdpError("the answer lacks ICE credentials")
            if not media.dtls or not media.dtls.fingerprints:
                raise InvalidSdpError("the answer lacks a DTLS fingerprint")
            wanted = required_mime_type(TrackKind(media.kind), self._config.video_codec)
            if wanted not in {c.mimeType.lower() for c in media.rtp.codecs}:
                raise UnsupportedCodecError(
                    f"the answer of {self.id!r} accepts no {wanted} on m-line "
                    f"{media.rtp.muxId!r}; this room uses {wanted}"
                )

    def slots(self) -> list[Slot]:
        """What each m-line is, in m-line order (mids are known once an offer was made)."""
        by_transceiver: dict[int, Slot] = {}
        for source, transceiver in self._publish_slots.items():
            if transceiver.mid is not None:
                by_transceiver[id(transceiver)] = Slot(
                    transceiver.mid, source.kind, "publish", source
                )
        for subscription in self.subscriptions:
            if subscription.mid is None:
                continue
            publication = subscription.publication
            by_transceiver[id(subscription.transceiver)] = Slot(
                subscription.mid,
                subscription.kind,
                "subscribe",
                None if publication is None else publication.source,
                None if publication is None else publication.publisher_id,
            )
        return [
            by_transceiver[id(t)] for t in self._pc.getTransceivers() if id(t) in by_transceiver
        ]

    # ------------------------------------------------------------------ room wiring

    def _add_publish_slot(self, source: TrackSource) -> None:
        transceiver = self._pc.addTransceiver(source.kind.value, direction="recvonly")
        pin_codecs(transceiver, source.kind, self._config.video_codec)
        self._publish_slots[source] = transceiver

    def _sending_slots(self) -> list[tuple[TrackSource, RTCRtpTransceiver]]:
        """Publish slots on which the client currently sends media."""
        return [
            (source, t)
            for source, t in self._publish_slots.items()
            if t.currentDirection in _SENDING and t.receiver.track is not None
        ]

    def _subscribe(self, publication: Publication) -> bool:
        """Give `publication` a send slot; True if the client must be offered the change."""
        same = [
            s
            for s in self.subscriptions
            if s.vacant
            and s.kind is publication.kind
            and s.publisher_id == publication.publisher_id
            and s.source == publication.source
        ]
        if same:  # the publisher reconnected: same m-line, same SSRC, nothing to offer
            publication.subscribe(same[0])
            return False
        reusable = [s for s in self.subscriptions if s.vacant and s.kind is publication.kind]
        if reusable:
            publication.subscribe(reusable[0])
            return True
        transceiver = self._pc.addTransceiver(NeverTrack(publication.kind), direction="sendonly")
        pin_codecs(transceiver, publication.kind, self._config.video_codec)
        subscription = Subscription(self.id, publication.kind, transceiver)
        self.subscriptions.append(subscription)
        publication.subscribe(subscription)
        return True

    def _on_connection_state(self) -> None:
        if self._pc.connectionState == "failed" and not self._closed:
            logger.info("%r: connection failed", self)
            self._room._spawn(self._room.leave(self, CloseReason.DISCONNECTED), "leave")

    def _check_open(self) -> None:
        if self._closed:
            raise ParticipantClosedError(self.id)
