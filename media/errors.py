"""The media package's exceptions: one base class, specific subclasses with human messages.

The signaling layer turns any `MediaError` into an error ack carrying `code` and `str(exc)`.
"""

from __future__ import annotations


class MediaError(Exception):
    """Base class of every error the media package raises on purpose."""

    code = "media_error"
    "A stable, machine-readable name for the error, safe to send to a client."


class RoomClosedError(MediaError):
    """The room has already closed; nothing can join or change it."""

    code = "room_closed"

    def __init__(self, room_id: str) -> None:
        super().__init__(f"room {room_id!r} has already closed")
        self.room_id = room_id


class ParticipantNotFoundError(MediaError):
    """The participant is not (or no longer) the live connection of that id in the room."""

    code = "participant_not_found"

    def __init__(self, participant_id: str) -> None:
        super().__init__(f"participant {participant_id!r} is not connected to this room")
        self.participant_id = participant_id


class ParticipantClosedError(MediaError):
    """An operation was attempted on a connection that has already closed."""

    code = "participant_closed"

    def __init__(self, participant_id: str) -> None:
        super().__init__(f"the connection of participant {participant_id!r} has already closed")
        self.participant_id = participant_id


class NegotiationError(MediaError):
    """An offer/answer round failed: the client did not answer, or answered something unusable."""

    code = "negotiation_failed"


class InvalidSdpError(NegotiationError):
    """The client's SDP could not be parsed or does not match the server's offer."""

    code = "invalid_sdp"


class UnsupportedCodecError(NegotiationError):
    """The client's answer accepts none of the codecs this room uses."""

    code = "unsupported_codec"


class InvalidCandidateError(MediaError):
    """An ICE candidate was malformed or named an m-line that does not exist."""

    code = "invalid_candidate"


class UnsupportedAiortcError(MediaError):
    """The installed aiortc is not the version whose internals this package was checked against."""

    code = "unsupported_aiortc"
