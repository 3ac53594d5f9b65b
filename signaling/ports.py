"""What signaling needs from the application, as small Protocols the server implements.

signaling never imports the server: the server injects these (database, tokens, consent,
the patient's record) when it builds the namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

CallerKind = Literal["professional", "patient", "guest"]
HoldReason = Literal["waiting_for_professional", "consent_required"]


@dataclass(frozen=True)
class Identity:
    """Who a socket is, as proven by its token at connect."""

    kind: CallerKind
    subject_id: str
    "Professional id, or (invitees) the consultation participant id."
    consultation_id: str | None = None
    "Invitees: the one consultation their token admits them to."
    invite_id: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class JoinGrant:
    """A socket's admitted seat in one consultation."""

    consultation_id: str
    participant_id: str
    "The ConsultationParticipant id: stable across reconnections."
    role: str
    kind: CallerKind
    display_name: str
    modality: str
    status: str
    started_at: datetime | None
    patient_id: str | None = None
    "Set when this participant is the patient (consent applies to them)."
    ip: str | None = None
    actor_id: str | None = None
    "Who acts, for the audit trail: the professional id, else the participant id."

    @property
    def is_professional(self) -> bool:
        return self.kind == "professional"


@dataclass(frozen=True)
class ChatEntry:
    """A stored chat message as clients see it."""

    id: int
    client_msg_id: str
    author_kind: str
    author_participant_id: str
    author_name: str
    text: str
    attachment_id: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_msg_id": self.client_msg_id,
            "author": {
                "kind": self.author_kind,
                "participant_id": self.author_participant_id,
                "display_name": self.author_name,
            },
            "text": self.text,
            "attachment_id": self.attachment_id,
            "created_at": self.created_at.isoformat(),
        }


class Admission(Protocol):
    """Decides who may connect, join and send media. Refusals raise `SignalingError`."""

    async def admit(self, token: str, ip: str | None) -> Identity:
        """Verify a JWT or invite token (invites: not revoked, not expired)."""
        ...

    async def authorize_join(self, identity: Identity, consultation_id: str) -> JoinGrant:
        """The caller's participant seat in that consultation, checked against role and status."""
        ...

    async def media_hold(self, grant: JoinGrant) -> HoldReason | None:
        """Why this participant's media must wait besides the professional's absence (consent)."""
        ...

    def ice_servers(self, grant: JoinGrant) -> list[dict[str, Any]]:
        """RTCPeerConnection `iceServers` for this participant, with fresh TURN credentials."""
        ...


class SessionLog(Protocol):
    """Records the consultation's life in the database (start, attendances, end)."""

    async def consultation_started(self, consultation_id: str) -> datetime:
        """Start it if it has not started; return `started_at`."""
        ...

    async def participant_joined(self, grant: JoinGrant) -> None:
        """Open an attendance (one stay in the room)."""
        ...

    async def participant_left(self, grant: JoinGrant, reason: str) -> None:
        """Close the participant's open attendance."""
        ...

    async def consultation_ended(self, consultation_id: str, reason: str) -> datetime:
        """End it (idempotent), close open attendances, write the session record; `ended_at`."""
        ...


class ChatStore(Protocol):
    """The consultation's durable chat. Every method commits before it returns."""

    async def append(
        self, grant: JoinGrant, client_msg_id: str, text: str
    ) -> tuple[ChatEntry, bool]:
        """Store once per client id; return the message and whether it is new."""
        ...

    async def history(
        self, grant: JoinGrant, after_id: int | None, limit: int
    ) -> list[ChatEntry]: ...

    async def mark_read(self, grant: JoinGrant, last_id: int) -> int: ...

    async def last_id(self, grant: JoinGrant) -> int: ...
