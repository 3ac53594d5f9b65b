"""The live side of the server: Socket.IO attached to the app, the SFU, and their database ports.

`setup_realtime(app)` attaches a python-socketio server at /socket.io/ and, at start-up,
builds the `/consultation` namespace (signaling) with its media `RoomRegistry`, injecting the
database-backed implementations below: `DbAdmission` (tokens, invites, participants, consent),
`DbSessionLog` (start/end, attendances, the session entry in the record) and `DbChatStore`
(server.chat). On shutdown every room closes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, cast

import socketio
from aiohttp import web
from aiortc import RTCIceServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from media import MediaConfig
from server import chat as chat_store
from server.auth.tokens import (
    CallerKind,
    InvalidTokenError,
    TokenService,
    hash_invite_token,
)
from server.chat import ChatAuthor, ChatMessage, InvalidChatMessageError, consultation_channel
from server.db.base import utcnow
from server.db.models import (
    PROFESSIONAL_ROLES,
    Attendance,
    AuditEvent,
    Consultation,
    ConsultationMode,
    ConsultationParticipant,
    ConsultationStatus,
    InvalidTransitionError,
    Invite,
    ParticipantRole,
    Professional,
)
from server.keys import DB_SESSIONS, SETTINGS, SIO, TOKENS
from server.settings import Settings
from signaling import (
    ChatEntry,
    ConsultationNamespace,
    HoldReason,
    Identity,
    JoinGrant,
    SignalingConfig,
    SignalingError,
)

logger = logging.getLogger(__name__)

ConsentCheck = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[bool]]
"has_consent(db, consultation_id, patient_id): the patient's media may flow."
SessionEntryWriter = Callable[[AsyncSession, uuid.UUID], Awaitable[object]]
"write_session_entry(db, consultation_id): the record entry of a finished session."

REALTIME = web.AppKey("realtime", ConsultationNamespace)
"The /consultation namespace (its `.rooms` is the media RoomRegistry)."
SIGNALING_CONFIG = web.AppKey("signaling_config", SignalingConfig)
"Optional: set before start-up to change the signaling timers (tests shorten them)."
CONSENT_CHECK = web.AppKey("consent_check", Any)
"Optional ConsentCheck override; default server.records.consent.has_consent."
SESSION_ENTRY_WRITER = web.AppKey("session_entry_writer", Any)
"Optional SessionEntryWriter override; default server.records.session_record.write_session_entry."
SIO_CLIENT_MANAGER = web.AppKey("sio_client_manager", object)
"Optional python-socketio client manager (server.cluster sets the Redis one)."
NAMESPACE_FACTORY = web.AppKey("namespace_factory", object)
"Optional: builds the namespace from ConsultationNamespace's arguments (server.cluster join gate)."

MAX_SOCKET_FRAME_BYTES = 256 * 1024


# ---------------------------------------------------------------------------- ICE / TURN


def turn_credentials(secret: str, participant_id: str, ttl_s: int, now: float) -> tuple[str, str]:
    """coturn REST API credentials: username `<expiry>:<id>`, base64(HMAC-SHA1(secret, user))."""
    username = f"{int(now) + ttl_s}:{participant_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(settings: Settings, participant_id: str) -> list[dict[str, Any]]:
    """The browser's RTCPeerConnection `iceServers`: STUN, then TURN with fresh credentials."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls and settings.turn_secret:
        username, credential = turn_credentials(
            settings.turn_secret, participant_id, settings.turn_credential_ttl_s, time.time()
        )
        servers.append(
            {"urls": list(settings.turn_urls), "username": username, "credential": credential}
        )
    return servers


def media_config(settings: Settings) -> MediaConfig:
    """The SFU's own settings: it gathers on the configured addresses, with STUN if given."""
    return MediaConfig(
        video_codec="H264" if settings.video_codec == "H264" else "VP8",
        ice_servers=[RTCIceServer(urls=url) for url in settings.stun_urls],
        host_addresses=list(settings.ice_host_addresses) or None,
    )


# ---------------------------------------------------------------------------- audit


def _audit(
    db: AsyncSession,
    action: str,
    resource_type: str,
    *,
    actor_kind: str,
    actor_id: str | None,
    resource_id: str | None = None,
    consultation_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    ip: str | None = None,
    outcome: str = "success",
    detail: str | None = None,
) -> None:
    db.add(
        AuditEvent(
            actor_kind=actor_kind,
            actor_id=actor_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            consultation_id=consultation_id,
            patient_id=patient_id,
            ip=ip,
            outcome=outcome,
            detail=detail,
        )
    )


def _grant_actor(grant: JoinGrant) -> tuple[str, str | None]:
    return grant.kind, grant.actor_id or grant.participant_id


# ---------------------------------------------------------------------------- admission


def _kind_of(role: ParticipantRole) -> Any:
    if role in PROFESSIONAL_ROLES:
        return "professional"
    return "patient" if role is ParticipantRole.PACIENTE else "guest"


class DbAdmission:
    """signaling.Admission against tokens, invites, participants and the consent gate."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tokens: TokenService,
        settings: Settings,
        has_consent: ConsentCheck,
    ) -> None:
        self._sessions = sessions
        self._tokens = tokens
        self._settings = settings
        self._has_consent = has_consent

    async def admit(self, token: str, ip: str | None) -> Identity:
        async with self._sessions.begin() as db:
            if token.count(".") == 2:
                return await self._admit_jwt(db, token, ip)
            return await self._admit_invite(db, token, ip)

    async def _admit_jwt(self, db: AsyncSession, token: str, ip: str | None) -> Identity:
        try:
            caller = self._tokens.verify_access(token)
        except InvalidTokenError as exc:
            raise SignalingError("token_invalid") from exc
        if caller.kind is CallerKind.PROFESSIONAL:
            professional = await db.get(Professional, caller.subject_id)
            if professional is None:
                raise SignalingError("token_invalid")
            if not professional.active:
                raise SignalingError("account_inactive")
            return Identity("professional", str(caller.subject_id), ip=ip)
        if caller.invite_id is not None:
            invite = await db.get(Invite, caller.invite_id)
            if invite is None:
                raise SignalingError("token_invalid")
            self._check_invite(invite)
        if caller.consultation_id is None:
            raise SignalingError("token_invalid")
        return Identity(
            "patient" if caller.kind is CallerKind.PATIENT else "guest",
            str(caller.subject_id),
            consultation_id=str(caller.consultation_id),
            invite_id=None if caller.invite_id is None else str(caller.invite_id),
            ip=ip,
        )

    async def _admit_invite(self, db: AsyncSession, token: str, ip: str | None) -> Identity:
        invite = await db.scalar(
            select(Invite).where(Invite.token_sha256 == hash_invite_token(token))
        )
        if invite is None:
            raise SignalingError("token_invalid")
        self._check_invite(invite)
        invite.last_used_at = utcnow()
        return Identity(
            "patient" if invite.role is ParticipantRole.PACIENTE else "guest",
            str(invite.participant_id),
            consultation_id=str(invite.consultation_id),
            invite_id=str(invite.id),
            ip=ip,
        )

    @staticmethod
    def _check_invite(invite: Invite) -> None:
        if invite.revoked_at is not None:
            raise SignalingError("invite_revoked")
        if not invite.usable_at(utcnow()):
            raise SignalingError("invite_expired")

    async def authorize_join(self, identity: Identity, consultation_id: str) -> JoinGrant:
        try:
            cid = uuid.UUID(consultation_id)
        except ValueError as exc:
            raise SignalingError("consultation_not_found") from exc
        async with self._sessions.begin() as db:
            consultation = await db.scalar(
                select(Consultation)
                .where(Consultation.id == cid)
                .options(selectinload(Consultation.participants))
            )
            if consultation is None:
                raise SignalingError("consultation_not_found")
            participant = self._participant_of(identity, consultation)
            actor_id = identity.subject_id
            if participant is None:
                _audit(
                    db,
                    "join",
                    "consultation",
                    actor_kind=identity.kind,
                    actor_id=actor_id,
                    resource_id=str(cid),
                    consultation_id=cid,
                    ip=identity.ip,
                    outcome="denied",
                    detail="not a participant",
                )
                raise SignalingError("not_a_participant")
            if consultation.status in (ConsultationStatus.ENDED, ConsultationStatus.CANCELLED):
                raise SignalingError("consultation_closed")
            if consultation.mode is not ConsultationMode.SYNC:
                raise SignalingError("not_a_video_consultation")
            patient_id = participant.patient_id
            if patient_id is None and participant.role is ParticipantRole.PACIENTE:
                patient_id = consultation.patient_id
            _audit(
                db,
                "join",
                "consultation",
                actor_kind=identity.kind,
                actor_id=actor_id,
                resource_id=str(cid),
                consultation_id=cid,
                patient_id=consultation.patient_id,
                ip=identity.ip,
            )
            return JoinGrant(
                consultation_id=str(cid),
                participant_id=str(participant.id),
                role=participant.role.value,
                kind=_kind_of(participant.role),
                display_name=participant.display_name,
                modality=consultation.modality.value,
                status=consultation.status.value,
                started_at=consultation.started_at,
                patient_id=None if patient_id is None else str(patient_id),
                ip=identity.ip,
                actor_id=actor_id,
            )

    @staticmethod
    def _participant_of(
        identity: Identity, consultation: Consultation
    ) -> ConsultationParticipant | None:
        for participant in consultation.participants:
            if participant.removed_at is not None:
                continue
            if identity.kind == "professional":
                if str(participant.professional_id) == identity.subject_id and (
                    participant.role in PROFESSIONAL_ROLES
                ):
                    return participant
            elif (
                identity.consultation_id == str(consultation.id)
                and str(participant.id) == identity.subject_id
            ):
                return participant
        return None

    async def media_hold(self, grant: JoinGrant) -> HoldReason | None:
        if grant.role != ParticipantRole.PACIENTE.value:
            return None
        if grant.patient_id is None:
            return "consent_required"  # no identified patient: no consent can be on file
        async with self._sessions() as db:
            allowed = await self._has_consent(
                db, uuid.UUID(grant.consultation_id), uuid.UUID(grant.patient_id)
            )
        return None if allowed else "consent_required"

    def ice_servers(self, grant: JoinGrant) -> list[dict[str, Any]]:
        return ice_servers_for(self._settings, grant.participant_id)


# ---------------------------------------------------------------------------- session log


class DbSessionLog:
    """signaling.SessionLog: Consultation.start/end and Attendance rows."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], write_session_entry: SessionEntryWriter
    ) -> None:
        self._sessions = sessions
        self._write_session_entry = write_session_entry

    async def consultation_started(self, consultation_id: str) -> datetime:
        async with self._sessions.begin() as db:
            consultation = await db.get(Consultation, uuid.UUID(consultation_id))
            if consultation is None:
                raise SignalingError("consultation_not_found")
            try:
                consultation.start(utcnow())
            except InvalidTransitionError as exc:
                raise SignalingError("consultation_closed") from exc
            assert consultation.started_at is not None
            return consultation.started_at

    async def participant_joined(self, grant: JoinGrant) -> None:
        now = utcnow()
        async with self._sessions.begin() as db:
            # A stay left open by a crash is closed first: one open attendance per participant.
            await self._close_open(db, grant.participant_id, now, "stale")
            db.add(Attendance(participant_id=uuid.UUID(grant.participant_id), joined_at=now))

    async def participant_left(self, grant: JoinGrant, reason: str) -> None:
        async with self._sessions.begin() as db:
            await self._close_open(db, grant.participant_id, utcnow(), reason)
            actor_kind, actor_id = _grant_actor(grant)
            _audit(
                db,
                "leave",
                "consultation",
                actor_kind=actor_kind,
                actor_id=actor_id,
                resource_id=grant.consultation_id,
                consultation_id=uuid.UUID(grant.consultation_id),
                ip=grant.ip,
                detail=reason,
            )

    @staticmethod
    async def _close_open(
        db: AsyncSession, participant_id: str, now: datetime, reason: str
    ) -> None:
        open_stays = await db.scalars(
            select(Attendance).where(
                Attendance.participant_id == uuid.UUID(participant_id),
                Attendance.left_at.is_(None),
            )
        )
        for stay in open_stays:
            stay.left_at = now
            stay.leave_reason = reason[:40]

    async def consultation_ended(self, consultation_id: str, reason: str) -> datetime:
        cid = uuid.UUID(consultation_id)
        now = utcnow()
        async with self._sessions.begin() as db:
            consultation = await db.scalar(
                select(Consultation)
                .where(Consultation.id == cid)
                .options(selectinload(Consultation.participants))
            )
            if consultation is None:
                raise SignalingError("consultation_not_found")
            if consultation.status is ConsultationStatus.ENDED and consultation.ended_at:
                return consultation.ended_at
            try:
                consultation.end(now)
            except InvalidTransitionError as exc:
                raise SignalingError("consultation_closed") from exc
            for participant in consultation.participants:
                await self._close_open(db, str(participant.id), now, "consultation_ended")
            _audit(
                db,
                "end",
                "consultation",
                actor_kind="system",
                actor_id=None,
                resource_id=consultation_id,
                consultation_id=cid,
                patient_id=consultation.patient_id,
                detail=reason,
            )
        # Its own transaction: a failing record writer must not keep a consultation running.
        try:
            async with self._sessions.begin() as db:
                await self._write_session_entry(db, cid)
        except Exception:
            logger.exception("consultation %s: writing the session entry failed", cid)
        return now


# ---------------------------------------------------------------------------- chat


def _entry(message: ChatMessage) -> ChatEntry:
    return ChatEntry(
        id=message.id,
        client_msg_id=message.client_msg_id,
        author_kind=message.author_kind,
        author_participant_id=message.author_id,
        author_name=message.author_name,
        text=message.text,
        attachment_id=message.attachment_id,
        created_at=message.created_at,
    )


class DbChatStore:
    """signaling.ChatStore on server.chat; each call is one committed transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @staticmethod
    def _author(grant: JoinGrant) -> ChatAuthor:
        # In a consultation the author is the participant (stable for invitees and professionals).
        return ChatAuthor(grant.kind, grant.participant_id, grant.display_name)

    async def append(
        self, grant: JoinGrant, client_msg_id: str, text: str
    ) -> tuple[ChatEntry, bool]:
        cid = uuid.UUID(grant.consultation_id)
        async with self._sessions.begin() as db:
            try:
                message, created = await chat_store.append(
                    db, consultation_channel(cid), self._author(grant), client_msg_id, text
                )
            except InvalidChatMessageError as exc:
                raise SignalingError(exc.code, str(exc)) from exc
            if created:
                actor_kind, actor_id = _grant_actor(grant)
                _audit(
                    db,
                    "create",
                    "chat_message",
                    actor_kind=actor_kind,
                    actor_id=actor_id,
                    resource_id=str(message.id),
                    consultation_id=cid,
                    ip=grant.ip,
                )
            return _entry(message), created

    async def history(self, grant: JoinGrant, after_id: int | None, limit: int) -> list[ChatEntry]:
        cid = uuid.UUID(grant.consultation_id)
        async with self._sessions.begin() as db:
            messages = await chat_store.history(db, consultation_channel(cid), after_id, limit)
            actor_kind, actor_id = _grant_actor(grant)
            _audit(
                db,
                "read",
                "chat_message",
                actor_kind=actor_kind,
                actor_id=actor_id,
                consultation_id=cid,
                ip=grant.ip,
                detail=f"after {after_id or 0}: {len(messages)} message(s)",
            )
            return [_entry(message) for message in messages]

    async def mark_read(self, grant: JoinGrant, last_id: int) -> int:
        cid = uuid.UUID(grant.consultation_id)
        async with self._sessions.begin() as db:
            return await chat_store.mark_read(
                db, consultation_channel(cid), self._author(grant), last_id
            )

    async def last_id(self, grant: JoinGrant) -> int:
        channel = consultation_channel(uuid.UUID(grant.consultation_id))
        async with self._sessions() as db:
            newest = await db.scalar(
                select(func.max(ChatMessage.id)).where(ChatMessage.channel == channel)
            )
        return int(newest or 0)


# ---------------------------------------------------------------------------- wiring


def _default_consent_check() -> ConsentCheck:
    from server.records.consent import has_consent

    return has_consent


def _default_session_entry_writer() -> SessionEntryWriter:
    from server.records.session_record import write_session_entry

    return write_session_entry


def setup_realtime(app: web.Application) -> None:
    """Attach Socket.IO at /socket.io/ and build the namespace and SFU at start-up."""
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        max_http_buffer_size=MAX_SOCKET_FRAME_BYTES,
        client_manager=app.get(SIO_CLIENT_MANAGER),
        logger=False,
        engineio_logger=False,
    )
    sio.attach(app)
    app[SIO] = sio

    async def realtime(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        sessions = app[DB_SESSIONS]
        has_consent = cast(ConsentCheck, app.get(CONSENT_CHECK) or _default_consent_check())
        writer = cast(
            SessionEntryWriter, app.get(SESSION_ENTRY_WRITER) or _default_session_entry_writer()
        )
        factory = cast(
            type[ConsultationNamespace], app.get(NAMESPACE_FACTORY) or ConsultationNamespace
        )
        namespace = factory(
            media_config(settings),
            DbAdmission(sessions, app[TOKENS], settings, has_consent),
            DbSessionLog(sessions, writer),
            DbChatStore(sessions),
            app.get(SIGNALING_CONFIG),
        )
        sio.register_namespace(namespace)
        app[REALTIME] = namespace
        yield
        await namespace.close()
        _cancel_engineio_pings()

    app.cleanup_ctx.append(realtime)


def _cancel_engineio_pings() -> None:
    """Cancel engine.io's per-socket `_send_ping` tasks left at shutdown.

    Each sleeps a whole ping interval and nothing cancels it, so a loop that stops after the
    app (tests, `serve`) would destroy them pending and log "Task was destroyed".
    """
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__qualname__", "") == "AsyncSocket._send_ping":
            task.cancel()
