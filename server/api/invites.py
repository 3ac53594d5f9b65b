"""Invite links: issued by the consultation's professionals, exchanged by patients and guests
for a short access token scoped to that one consultation.

The token is shown once, at issue; only its SHA-256 is stored.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.consultations import (
    AddParticipantIn,
    add_participant_to,
    audit_consultation,
    managed_consultation,
    require_open,
)
from server.api.errors import ApiError, conflict, not_found
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_body, path_uuid
from server.audit import record_audit
from server.auth import policy
from server.auth.caller import require_caller
from server.auth.tokens import Caller, CallerKind, hash_invite_token, new_invite_token
from server.db.models import (
    AccountRole,
    Consultation,
    ConsultationMode,
    ConsultationParticipant,
    ConsultationStatus,
    Invite,
    Modality,
    Nucleo,
    ParticipantRole,
    Ponto,
    Professional,
)
from server.keys import DB_SESSIONS, SETTINGS, TOKENS

routes = web.RouteTableDef()
TAG = "invites"

# An invite session lasts the consultation plus some slack, at most four hours; the link
# itself stays valid until it expires, so the page can exchange it again.
SESSION_SLACK = timedelta(minutes=60)
SESSION_MAX = timedelta(hours=4)


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["paciente", "convidado", "interprete"]
    display_name: Annotated[str, Field(min_length=2, max_length=200)] | None = None
    participant_id: uuid.UUID | None = None
    "Re-invite an existing participant (e.g. a new link for the same guest)."


class IssuedInviteOut(BaseModel):
    id: uuid.UUID
    token: str
    url: str
    expires_at: datetime
    participant_id: uuid.UUID
    role: ParticipantRole


class InviteOut(BaseModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    role: ParticipantRole
    display_name: str
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    status: Literal["active", "revoked", "expired"]


class InviteProfessional(BaseModel):
    display_name: str
    role: ParticipantRole
    council_label: str


class InviteSummaryOut(BaseModel):
    """What the landing page shows before entering: who and when, no clinical content."""

    role: ParticipantRole
    display_name: str
    modality: Modality
    mode: ConsultationMode
    status: ConsultationStatus
    scheduled_for: datetime
    expected_duration_min: int
    professionals: list[InviteProfessional]
    nucleo_name: str | None
    ponto_name: str | None
    expires_at: datetime


class InviteSessionOut(BaseModel):
    access_token: str
    expires_in: int
    consultation_id: uuid.UUID
    participant_id: uuid.UUID
    role: ParticipantRole
    display_name: str


def _status(invite: Invite, now: datetime) -> Literal["active", "revoked", "expired"]:
    if invite.revoked_at is not None:
        return "revoked"
    return "active" if now < invite.expires_at else "expired"


@endpoint(
    routes, "POST", "/api/consultations/{id}/invites",
    summary="Emitir link de convite (o token aparece só agora)", tag=TAG,
    body=InviteIn, response=IssuedInviteOut, status=201,
)  # fmt: skip
async def issue_invite(request: web.Request) -> web.Response:
    caller = require_caller(request)
    consultation_id = path_uuid(request, "id")
    body = await parse_body(request, InviteIn)
    role = ParticipantRole(body.role)
    settings = request.app[SETTINGS]
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await managed_consultation(db, caller, consultation_id)
        require_open(consultation)
        active = policy.active_participants(consultation.participants)
        participant: ConsultationParticipant | None
        if body.participant_id is not None:
            participant = next((p for p in active if p.id == body.participant_id), None)
            if participant is None or participant.role is not role:
                raise not_found("Participante")
        elif role is ParticipantRole.PACIENTE:
            if consultation.patient_id is None:
                raise conflict("no_patient", "Este atendimento não tem paciente.")
            participant = next((p for p in active if p.patient_id == consultation.patient_id), None)
            if participant is None:
                participant = await add_participant_to(
                    db, consultation, AddParticipantIn(role=role)
                )
        else:
            if body.display_name is None:
                raise ApiError(
                    422, "invalid_payload", "Dados inválidos.",
                    [{"field": "display_name", "code": "display_name_required",
                      "message": "Informe o nome do convidado."}],
                )  # fmt: skip
            participant = await add_participant_to(
                db, consultation, AddParticipantIn(role=role, display_name=body.display_name)
            )
        token = new_invite_token()
        invite = Invite(
            consultation_id=consultation.id,
            participant_id=participant.id,
            role=role,
            token_sha256=hash_invite_token(token),
            expires_at=datetime.now(UTC) + timedelta(hours=settings.invite_ttl_hours),
            created_by_id=caller.subject_id,
        )
        db.add(invite)
        await db.flush()
        audit_consultation(db, caller, "issue_invite", consultation, request, detail=role.value)
        return json_response(
            IssuedInviteOut(
                id=invite.id,
                token=token,
                url=f"{settings.effective_public_url}/entrar/{token}",
                expires_at=invite.expires_at,
                participant_id=participant.id,
                role=role,
            ),
            status=201,
        )


@endpoint(
    routes, "GET", "/api/consultations/{id}/invites", summary="Convites do atendimento",
    tag=TAG, response=list[InviteOut],
)  # fmt: skip
async def list_invites(request: web.Request) -> web.Response:
    caller = require_caller(request)
    consultation_id = path_uuid(request, "id")
    now = datetime.now(UTC)
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await managed_consultation(db, caller, consultation_id)
        names = {p.id: p.display_name for p in consultation.participants}
        invites = (
            await db.scalars(
                select(Invite)
                .where(Invite.consultation_id == consultation.id)
                .order_by(Invite.created_at)
            )
        ).all()
        audit_consultation(db, caller, "list_invites", consultation, request)
        return json_response(
            [
                InviteOut(
                    id=i.id,
                    participant_id=i.participant_id,
                    role=i.role,
                    display_name=names.get(i.participant_id, ""),
                    expires_at=i.expires_at,
                    revoked_at=i.revoked_at,
                    last_used_at=i.last_used_at,
                    created_at=i.created_at,
                    status=_status(i, now),
                )
                for i in invites
            ]
        )


@endpoint(
    routes, "DELETE", "/api/invites/{invite_id}", summary="Revogar convite", tag=TAG, status=204
)
async def revoke_invite(request: web.Request) -> web.Response:
    caller = require_caller(request)
    invite_id = path_uuid(request, "invite_id")
    async with request.app[DB_SESSIONS].begin() as db:
        invite = await db.get(Invite, invite_id)
        if invite is None:
            raise not_found("Convite")
        consultation = await managed_consultation(db, caller, invite.consultation_id)
        if invite.revoked_at is None:
            invite.revoked_at = datetime.now(UTC)
        audit_consultation(db, caller, "revoke_invite", consultation, request)
    return web.Response(status=204)


async def _usable_invite(
    request: web.Request, db: AsyncSession, token: str
) -> tuple[Invite, Consultation, ConsultationParticipant]:
    if not 16 <= len(token) <= 100:
        raise ApiError(404, "invite_not_found", "Convite não encontrado. Confira o link recebido.")
    invite = await db.scalar(select(Invite).where(Invite.token_sha256 == hash_invite_token(token)))
    if invite is None:
        raise ApiError(404, "invite_not_found", "Convite não encontrado. Confira o link recebido.")
    now = datetime.now(UTC)
    if invite.revoked_at is not None:
        raise ApiError(410, "invite_revoked", "Este convite foi cancelado. Peça um novo link.")
    if invite.expires_at <= now:
        raise ApiError(410, "invite_expired", "Este convite expirou. Peça um novo link.")
    consultation = await db.get(Consultation, invite.consultation_id)
    participant = await db.get(ConsultationParticipant, invite.participant_id)
    assert consultation is not None and participant is not None
    if participant.removed_at is not None:
        raise ApiError(410, "invite_revoked", "Este convite foi cancelado. Peça um novo link.")
    if not policy.is_open(consultation):
        raise ApiError(
            410, "consultation_closed", "Este atendimento já foi encerrado ou cancelado."
        )
    return invite, consultation, participant


@endpoint(
    routes, "GET", "/api/invites/{token}", summary="Resumo do convite (página de entrada)",
    tag=TAG, response=InviteSummaryOut, auth=False,
)  # fmt: skip
async def invite_summary(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    async with request.app[DB_SESSIONS].begin() as db:
        invite, consultation, participant = await _usable_invite(request, db, token)
        rows = (
            await db.execute(
                select(ConsultationParticipant, Professional)
                .join(Professional, Professional.id == ConsultationParticipant.professional_id)
                .where(
                    ConsultationParticipant.consultation_id == consultation.id,
                    ConsultationParticipant.removed_at.is_(None),
                )
            )
        ).all()
        nucleo = await db.get(Nucleo, consultation.nucleo_id) if consultation.nucleo_id else None
        ponto = await db.get(Ponto, consultation.ponto_id) if consultation.ponto_id else None
        record_audit(
            db, None, "read", "invite", invite.id, patient_id=participant.patient_id,
            consultation_id=consultation.id, nucleo_id=consultation.nucleo_id, request=request,
            actor_kind="invitee", actor_id=str(participant.id),
        )  # fmt: skip
        return json_response(
            InviteSummaryOut(
                role=participant.role,
                display_name=participant.display_name,
                modality=consultation.modality,
                mode=consultation.mode,
                status=consultation.status,
                scheduled_for=consultation.scheduled_for,
                expected_duration_min=consultation.expected_duration_min,
                professionals=[
                    InviteProfessional(
                        display_name=p.display_name, role=p.role, council_label=pro.council_label
                    )
                    for p, pro in rows
                ],
                nucleo_name=nucleo.name if nucleo else None,
                ponto_name=ponto.name if ponto else None,
                expires_at=invite.expires_at,
            )
        )


@endpoint(
    routes, "POST", "/api/invites/{token}/session",
    summary="Trocar o convite por um acesso ao atendimento", tag=TAG,
    response=InviteSessionOut, auth=False,
)  # fmt: skip
async def invite_session(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    tokens = request.app[TOKENS]
    async with request.app[DB_SESSIONS].begin() as db:
        invite, consultation, participant = await _usable_invite(request, db, token)
        now = datetime.now(UTC)
        ttl = min(
            max(
                tokens.access_ttl,
                timedelta(minutes=consultation.expected_duration_min) + SESSION_SLACK,
            ),
            SESSION_MAX,
            invite.expires_at - now,
        )
        is_patient = participant.patient_id is not None
        caller = Caller(
            kind=CallerKind.PATIENT if is_patient else CallerKind.GUEST,
            role=AccountRole.PACIENTE,
            subject_id=participant.id,
            consultation_id=consultation.id,
            patient_id=participant.patient_id,
            invite_id=invite.id,
        )
        invite.last_used_at = now
        record_audit(
            db, caller, "invite_session", "invite", invite.id, patient_id=participant.patient_id,
            nucleo_id=consultation.nucleo_id, request=request,
        )  # fmt: skip
        return json_response(
            InviteSessionOut(
                access_token=tokens.access_token(caller, ttl=ttl),
                expires_in=int(ttl.total_seconds()),
                consultation_id=consultation.id,
                participant_id=participant.id,
                role=participant.role,
                display_name=participant.display_name,
            )
        )
