"""The SFU: rooms of participants whose RTP packets are forwarded, never decoded.

Public API (everything else is internal):

    registry = RoomRegistry(config: MediaConfig, observer: RoomObserver, negotiator: Negotiator)
    room = registry.get_or_create(room_id)        # also registry.get(room_id) -> Room | None
    participant = await room.connect(participant_id, metadata={"name": ...})
        # one live connection per participant id: a reconnect replaces the previous one
        # (reason REPLACED). connect() awaits the first offer/answer round (the Negotiator
        # receives the first server Offer); on failure the connection is removed (reason
        # ERROR) and a NegotiationError / InvalidSdpError / UnsupportedCodecError raised.
    await participant.add_ice_candidate(candidate_sdp, sdp_mid=..., sdp_mline_index=...)
        # "" or None = end-of-candidates; unknown mid -> InvalidCandidateError
    await participant.set_muted(TrackSource.MICROPHONE, True)
    await participant.request_screen_share() / await participant.stop_screen_share()
    await participant.renegotiate()               # e.g. the client attached a track later
    await room.leave(participant, CloseReason.CLIENT_LEAVE)
        # a stale (replaced) connection is only closed: it never removes its replacement
    participant.closed / participant.close_reason / participant.slots()
    room.participants                              # Mapping[ParticipantId, Participant]
    await room.close(CloseReason.CONSULTATION_ENDED)
    registry.stats() -> {room_id: MediaStats, "total": MediaStats}   # room.stats() per room
        # forwarded packets/bytes, received packets, NACKs, PLIs, loss, RTT
    await registry.close_all(CloseReason.SERVER_SHUTDOWN)

The server is the only SDP offerer: joining, another participant's publication and screen
share all lead to a server `Offer` (sdp + a slot map saying what each m-line is) delivered
through `Negotiator.exchange`, serialised per participant (requests made during a round
are coalesced into one more round). A client publishes by setting its publish slot's
transceiver to "sendonly" with its track; the room creates the Publication after the
answer and subscribes everyone else (reusing their vacant slots of that kind first).
Errors are `MediaError` subclasses with a stable `code`. The observer hears
participant_joined/left, track_published/unpublished/muted and room_closed.
"""

import logging

from .config import MediaConfig, VideoCodec
from .errors import (
    InvalidCandidateError,
    InvalidSdpError,
    MediaError,
    NegotiationError,
    ParticipantClosedError,
    ParticipantNotFoundError,
    RoomClosedError,
    UnsupportedAiortcError,
    UnsupportedCodecError,
)
from .ids import CloseReason, ParticipantId, RoomId, TrackKind, TrackSource
from .negotiator import Negotiator
from .observer import NullObserver, RoomObserver, TrackInfo
from .offer import Offer, Slot, SlotDirection
from .participant import Participant
from .publication import Publication
from .registry import RoomRegistry
from .room import Room
from .stats import MediaStats
from .subscription import Subscription

__all__ = [
    "CloseReason",
    "InvalidCandidateError",
    "InvalidSdpError",
    "MediaConfig",
    "MediaError",
    "MediaStats",
    "NegotiationError",
    "Negotiator",
    "NullObserver",
    "Offer",
    "Participant",
    "ParticipantClosedError",
    "ParticipantId",
    "ParticipantNotFoundError",
    "Publication",
    "Room",
    "RoomClosedError",
    "RoomId",
    "RoomObserver",
    "RoomRegistry",
    "Slot",
    "SlotDirection",
    "Subscription",
    "TrackInfo",
    "TrackKind",
    "TrackSource",
    "UnsupportedAiortcError",
    "UnsupportedCodecError",
    "VideoCodec",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
