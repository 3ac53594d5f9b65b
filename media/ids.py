"""Identifiers and closed vocabularies shared by the whole media package."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

RoomId = NewType("RoomId", str)
"""Identifies one room; the signaling layer uses the consultation id."""

ParticipantId = NewType("ParticipantId", str)
"""Identifies one person in a room; stable across that person's reconnections."""


class TrackKind(StrEnum):
    """What an RTP stream carries."""

    AUDIO = "audio"
    VIDEO = "video"


class TrackSource(StrEnum):
    """Where a published track comes from on the client."""

    MICROPHONE = "microphone"
    CAMERA = "camera"
    SCREEN = "screen"

    @property
    def kind(self) -> TrackKind:
        return TrackKind.AUDIO if self is TrackSource.MICROPHONE else TrackKind.VIDEO


class CloseReason(StrEnum):
    """Why a participant, a track or a room went away. The values are stable wire strings."""

    CLIENT_LEAVE = "client_leave"
    DISCONNECTED = "disconnected"
    REPLACED = "replaced"
    ROOM_CLOSED = "room_closed"
    EMPTY_TIMEOUT = "empty_timeout"
    KICKED = "kicked"
    CONSULTATION_ENDED = "consultation_ended"
    CONSENT_REVOKED = "consent_revoked"
    SERVER_SHUTDOWN = "server_shutdown"
    ERROR = "error"
