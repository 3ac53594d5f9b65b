"""The SFU: rooms of participants whose RTP packets are forwarded, never decoded.

Public API (everything else is internal):

    registry = RoomRegistry(config: MediaConfig, observer: RoomObserver, negotiator: Negotiator)
    room = registry.get_or_create(room_id)        # also registry.get(room_id) -> Room | None
    participant = await room.connect(participant_id, metadata={"name": ...})
        # one live connection per participant id: a reconnect replaces the previous one
        # (reason REPLACED). connect() negotiates at once: the Negotiator receives the
        # first server Offer for that participant.
    await participant.add_ice_candidate(candidate_sdp, sdp_mid=..., sdp_mline_index=...)
        # "" or None = end-of-candidates; unknown mid -> InvalidCandidateError
    await participant.set_muted(TrackSource.MICROPHONE, True)
    await participant.request_screen_share() / await participant.stop_screen_share()
    await participant.renegotiate()               # e.g. the client attached a track later
    await room.leave(participant, CloseReason.CLIENT_LEAVE)   # stale connections are ignored
    room.participants                              # Mapping[ParticipantId, Participant]
    await room.close(CloseReason.CONSULTATION_ENDED)
    registry.stats() / room.stats()                # forwarded packets/bytes, NACKs, PLIs, ...
    await registry.close_all(CloseReason.SERVER_SHUTDOWN)

The server is the only SDP offerer: joining, another participant's publication and screen
share all lead to a server `Offer` (sdp + a slot map saying what each m-line is) delivered
through `Negotiator.exchange`, serialised per participant. Errors are `MediaError`
subclasses with a stable `code`.
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
