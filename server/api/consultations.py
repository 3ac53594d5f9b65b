"""Consultations: create, read, list (mine / the Núcleo's queue / the Núcleo's), schedule,
participants and cancel. Invites live in ``server.api.invites``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import Select, and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.api.errors import ApiError, conflict, forbidden, not_found
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_body, parse_query, path_uuid
from server.audit import record_audit
from server.auth import policy
from server.auth.caller import require_caller
from server.auth.tokens import Caller, CallerKind
from server.db.models import (
    PROFESSIONAL_ROLES,
    Consultation,
    ConsultationMode,
    ConsultationParticipant,
    ConsultationStatus,
    Invite,
    Modality,
    Nucleo,
    ParticipantRole,
    Patient,
    Ponto,
    Professional,
)
from server.keys import DB_SESSIONS

routes = web.RouteTableDef()
TAG = "consultations"

# "Today" is the agenda's day in Brazil's official time; the server itself stores UTC.
AGENDA_TZ = ZoneInfo("America/Sao_Paulo")
PATIENT_REQUIRED = frozenset({Modality.TELECONSULTA, Modality.TELEINTERCONSULTA})
PAST_TOLERANCE = timedelta(minutes=10)
LIST_LIMIT = 200

ProfessionalRole = Literal["solicitante", "teleconsultor", "regulador"]
DisplayName = Annotated[str, Field(min_length=2, max_length=200)]


def _invalid(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message, {"pt": message})


class ParticipantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    professional_id: uuid.UUID
    role: ProfessionalRole


class ConsultationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    modality: Modality
    mode: ConsultationMode = ConsultationMode.SYNC
    scheduled_for: AwareDatetime
    expected_duration_min: int = Field(default=30, ge=5, le=480)
    patient_id: uuid.UUID | None = None
    nucleo_id: uuid.UUID | None = None
    ponto_id: uuid.UUID | None = None
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.modality in PATIENT_REQUIRED and self.patient_id is None:
            raise _invalid("patient_required", "Esta modalidade exige um paciente.")
        ids = [p.professional_id for p in self.participants]
        if len(ids) != len(set(ids)):
            raise _invalid("duplicate_participant", "Um profissional aparece mais de uma vez.")
        return self


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scheduled_for: AwareDatetime
    expected_duration_min: int | None = Field(default=None, ge=5, le=480)


class AddParticipantIn(BaseModel):
    """A professional (by id), the consultation's patient, or a named guest/interpreter."""

    model_config = ConfigDict(extra="forbid")
    role: ParticipantRole
    professional_id: uuid.UUID | None = None
    display_name: DisplayName | None = None

    @model_validator(mode="after")
    def _identity(self) -> Self:
        if self.role in PROFESSIONAL_ROLES:
            if self.professional_id is None:
                raise _invalid("professional_required", "Informe o profissional.")
        elif self.professional_id is not None:
            raise _invalid("professional_not_allowed", "Este papel não é de profissional.")
        elif self.role is not ParticipantRole.PACIENTE and self.display_name is None:
            raise _invalid("display_name_required", "Informe o nome do participante.")
        return self


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=3, max_length=500)]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    when: Literal["today", "upcoming", "past"] | None = None
    scope: Literal["mine", "queue", "nucleo"] = "mine"
    status: ConsultationStatus | None = None


class ParticipantOut(BaseModel):
    id: uuid.UUID
    role: ParticipantRole
    display_name: str
    professional_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    council_label: str | None
    removed: bool


class PatientBrief(BaseModel):
    id: uuid.UUID
    name: str


class ConsultationOut(BaseModel):
    id: uuid.UUID
    modality: Modality
    mode: ConsultationMode
    status: ConsultationStatus
    scheduled_for: datetime
    expected_duration_min: int
    started_at: datetime | None
    ended_at: datetime | None
    nucleo_id: uuid.UUID | None
    ponto_id: uuid.UUID | None
    patient: PatientBrief | None
    title: str | None
    cancel_reason: str | None
    created_by_id: uuid.UUID
    participants: list[ParticipantOut]
    my_participant_id: uuid.UUID | None


# -- loading and rendering ---------------------------------------------------------------


async def load_consultation(db: AsyncSession, consultation_id: uuid.UUID) -> Consultation | None:
    consultation: Consultation | None = await db.scalar(
        select(Consultation)
        .where(Consultation.id == consultation_id)
        .options(selectinload(Consultation.participants))
    )
    return consultation


async def visible_consultation(
    db: AsyncSession, caller: Caller, consultation_id: uuid.UUID
) -> Consultation:
    """The consultation if the caller may see it; 404 otherwise (its existence stays private)."""
    consultation = await load_consultation(db, consultation_id)
    if consultation is None or not policy.can_view_consultation(
        caller, consultation, consultation.participants
    ):
        raise not_found("Atendimento")
    return consultation


async def managed_consultation(
    db: AsyncSession, caller: Caller, consultation_id: uuid.UUID
) -> Consultation:
    consultation = await visible_consultation(db, caller, consultation_id)
    if not policy.can_manage_consultation(caller, consultation, consultation.participants):
        raise forbidden("Apenas os profissionais do atendimento podem alterá-lo.")
    return consultation


def require_open(consultation: Consultation) -> None:
    if not policy.is_open(consultation):
        raise conflict("consultation_closed", "Este atendimento já foi encerrado ou cancelado.")


async def render(
    db: AsyncSession, caller: Caller, consultations: list[Consultation]
) -> list[ConsultationOut]:
    professional_ids = {
        p.professional_id for c in consultations for p in c.participants if p.professional_id
    }
    patient_ids = {c.patient_id for c in consultations if c.patient_id}
    labels: dict[uuid.UUID, str] = {}
    if professional_ids:
        for pro in await db.scalars(
            select(Professional).where(Professional.id.in_(professional_ids))
        ):
            labels[pro.id] = pro.council_label
    names: dict[uuid.UUID, str] = {}
    if patient_ids:
        for patient in await db.scalars(select(Patient).where(Patient.id.in_(patient_ids))):
            names[patient.id] = patient.social_name or patient.name
    out = []
    for c in consultations:
        mine = next(
            (
                p.id
                for p in policy.active_participants(c.participants)
                if (
                    caller.kind is CallerKind.PROFESSIONAL
                    and p.professional_id == caller.subject_id
                )
                or (caller.kind is not CallerKind.PROFESSIONAL and p.id == caller.subject_id)
            ),
            None,
        )
        out.append(
            ConsultationOut(
                id=c.id,
                modality=c.modality,
                mode=c.mode,
                status=c.status,
                scheduled_for=c.scheduled_for,
                expected_duration_min=c.expected_duration_min,
                started_at=c.started_at,
                ended_at=c.ended_at,
                nucleo_id=c.nucleo_id,
                ponto_id=c.ponto_id,
                patient=PatientBrief(id=c.patient_id, name=names.get(c.patient_id, ""))
                if c.patient_id
                else None,
                title=c.title,
                cancel_reason=c.cancel_reason,
                created_by_id=c.created_by_id,
                participants=[
                    ParticipantOut(
                        id=p.id,
                        role=p.role,
                        display_name=p.display_name,
                        professional_id=p.professional_id,
                        patient_id=p.patient_id,
                        council_label=labels.get(p.professional_id) if p.professional_id else None,
                        removed=p.removed_at is not None,
                    )
                    for p in sorted(c.participants, key=lambda p: p.created_at)
                ],
                my_participant_id=mine,
            )
        )
    return out


def audit_consultation(
    db: AsyncSession,
    caller: Caller,
    action: str,
    consultation: Consultation,
    request: web.Request,
    detail: str | None = None,
) -> None:
    record_audit(
        db, caller, action, "consultation", consultation.id,
        patient_id=consultation.patient_id, consultation_id=consultation.id,
        nucleo_id=consultation.nucleo_id, request=request, detail=detail,
    )  # fmt: skip


# -- endpoints ---------------------------------------------------------------------------


@endpoint(
    routes, "POST", "/api/consultations", summary="Criar atendimento", tag=TAG,
    body=ConsultationIn, response=ConsultationOut, status=201,
)  # fmt: skip
async def create_consultation(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_create_consultation(caller):
        raise forbidden("Apenas profissionais criam atendimentos.")
    body = await parse_body(request, ConsultationIn)
    if body.scheduled_for < datetime.now(UTC) - PAST_TOLERANCE:
        raise _unprocessable("scheduled_for", "scheduled_in_past", "A data já passou.")
    async with request.app[DB_SESSIONS].begin() as db:
        patient = None
        if body.patient_id is not None:
            patient = await db.get(Patient, body.patient_id)
            if patient is None:
                raise _unprocessable("patient_id", "patient_not_found", "Paciente não encontrado.")
        nucleo_id = body.nucleo_id or caller.nucleo_id
        if nucleo_id is not None and await db.get(Nucleo, nucleo_id) is None:
            raise _unprocessable("nucleo_id", "nucleo_not_found", "Núcleo não encontrado.")
        if body.ponto_id is not None and await db.get(Ponto, body.ponto_id) is None:
            raise _unprocessable("ponto_id", "ponto_not_found", "Ponto não encontrado.")
        wanted = {p.professional_id: ParticipantRole(p.role) for p in body.participants}
        if policy.is_profissional(caller) and caller.subject_id not in wanted:
            wanted[caller.subject_id] = ParticipantRole.SOLICITANTE  # the creator joins
        pros = {
            p.id: p
            for p in await db.scalars(
                select(Professional).where(
                    Professional.id.in_(wanted), Professional.active.is_(True)
                )
            )
        }
        for professional_id in wanted:
            pro = pros.get(professional_id)
            if pro is None or pro.council is None:
                raise _unprocessable(
                    "participants", "professional_not_found",
                    "Profissional não encontrado (ou sem registro em conselho).",
                )  # fmt: skip
        consultation = Consultation(
            modality=body.modality,
            mode=body.mode,
            scheduled_for=body.scheduled_for,
            expected_duration_min=body.expected_duration_min,
            patient_id=body.patient_id,
            nucleo_id=nucleo_id,
            ponto_id=body.ponto_id,
            created_by_id=caller.subject_id,
            title=body.title,
            participants=[
                ConsultationParticipant(
                    role=role,
                    professional_id=professional_id,
                    display_name=pros[professional_id].social_name or pros[professional_id].name,
                )
                for professional_id, role in wanted.items()
            ],
        )
        if patient is not None:
            consultation.participants.append(
                ConsultationParticipant(
                    role=ParticipantRole.PACIENTE,
                    patient_id=patient.id,
                    display_name=patient.social_name or patient.name,
                )
            )
        db.add(consultation)
        await db.flush()
        audit_consultation(db, caller, "create", consultation, request)
        loaded = await load_consultation(db, consultation.id)
        assert loaded is not None
        return json_response((await render(db, caller, [loaded]))[0], status=201)


def _unprocessable(field: str, code: str, message: str) -> ApiError:
    return ApiError(
        422, "invalid_payload", "Dados inválidos.",
        [{"field": field, "code": code, "message": message}],
    )  # fmt: skip


def _window(when: str | None, now: datetime) -> Select[tuple[Consultation]]:
    statement = select(Consultation)
    if when == "today":
        local = now.astimezone(AGENDA_TZ)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        statement = statement.where(
            Consultation.scheduled_for >= start.astimezone(UTC),
            Consultation.scheduled_for < (start + timedelta(days=1)).astimezone(UTC),
        )
    elif when == "upcoming":
        statement = statement.where(
            Consultation.scheduled_for >= now,
            Consultation.status.in_([ConsultationStatus.SCHEDULED, ConsultationStatus.IN_PROGRESS]),
        )
    elif when == "past":
        statement = statement.where(Consultation.scheduled_for < now)
    order = Consultation.scheduled_for.desc() if when == "past" else Consultation.scheduled_for
    return statement.order_by(order, Consultation.id)


@endpoint(
    routes, "GET", "/api/consultations", summary="Listar atendimentos", tag=TAG,
    query=ListQuery, response=list[ConsultationOut],
)  # fmt: skip
async def list_consultations(request: web.Request) -> web.Response:
    caller = require_caller(request)
    query = parse_query(request, ListQuery)
    statement = _window(query.when, datetime.now(UTC))
    if query.status is not None:
        statement = statement.where(Consultation.status == query.status)
    if caller.kind is not CallerKind.PROFESSIONAL:
        statement = statement.where(Consultation.id == caller.consultation_id)
    elif query.scope == "mine":
        statement = statement.where(
            exists().where(
                ConsultationParticipant.consultation_id == Consultation.id,
                ConsultationParticipant.professional_id == caller.subject_id,
                ConsultationParticipant.removed_at.is_(None),
            )
        )
    elif query.scope == "queue":
        if not caller.is_regulador or caller.nucleo_id is None:
            raise forbidden("A fila do Núcleo é visível a reguladores.")
        # The queue: open consultations of the Núcleo that no teleconsultor has taken yet.
        statement = statement.where(
            Consultation.nucleo_id == caller.nucleo_id,
            Consultation.status.in_([ConsultationStatus.SCHEDULED, ConsultationStatus.IN_PROGRESS]),
            ~exists().where(
                and_(
                    ConsultationParticipant.consultation_id == Consultation.id,
                    ConsultationParticipant.role == ParticipantRole.TELECONSULTOR,
                    ConsultationParticipant.removed_at.is_(None),
                )
            ),
        )
    else:
        if not (policy.is_gestor(caller) or caller.is_regulador) or caller.nucleo_id is None:
            raise forbidden("Os atendimentos do Núcleo são visíveis ao gestor e a reguladores.")
        statement = statement.where(Consultation.nucleo_id == caller.nucleo_id)
    statement = statement.options(selectinload(Consultation.participants)).limit(LIST_LIMIT)
    async with request.app[DB_SESSIONS].begin() as db:
        rows = list((await db.scalars(statement)).all())
        for consultation in rows:
            if consultation.patient_id is not None:
                audit_consultation(db, caller, "list", consultation, request)
        return json_response(await render(db, caller, rows))


@endpoint(
    routes, "GET", "/api/consultations/{id}", summary="Detalhes do atendimento", tag=TAG,
    response=ConsultationOut,
)  # fmt: skip
async def get_consultation(request: web.Request) -> web.Response:
    caller = require_caller(request)
    consultation_id = path_uuid(request, "id")
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await visible_consultation(db, caller, consultation_id)
        audit_consultation(db, caller, "read", consultation, request)
        return json_response((await render(db, caller, [consultation]))[0])


@endpoint(
    routes, "POST", "/api/consultations/{id}/schedule", summary="Agendar ou reagendar",
    tag=TAG, body=ScheduleIn, response=ConsultationOut,
)  # fmt: skip
async def schedule(request: web.Request) -> web.Response:
    caller = require_caller(request)
    consultation_id = path_uuid(request, "id")
    body = await parse_body(request, ScheduleIn)
    if body.scheduled_for < datetime.now(UTC) - PAST_TOLERANCE:
        raise _unprocessable("scheduled_for", "scheduled_in_past", "A data já passou.")
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await managed_consultation(db, caller, consultation_id)
        if consultation.status is not ConsultationStatus.SCHEDULED:
            raise conflict(
                "not_reschedulable", "Só atendimentos ainda não iniciados são reagendados."
            )
        consultation.scheduled_for = body.scheduled_for
        if body.expected_duration_min is not None:
            consultation.expected_duration_min = body.expected_duration_min
        audit_consultation(db, caller, "schedule", consultation, request)
        await db.flush()
        return json_response((await render(db, caller, [consultation]))[0])


@endpoint(
    routes, "POST", "/api/consultations/{id}/participants", summary="Adicionar participante",
    tag=TAG, body=AddParticipantIn, response=ParticipantOut, status=201,
)  # fmt: skip
async def add_participant(request: web.Request) -> web.Response:
    caller = require_caller(request)
    consultation_id = path_uuid(request, "id")
    body = await parse_body(request, AddParticipantIn)
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await managed_consultation(db, caller, consultation_id)
        require_open(consultation)
        participant = await add_participant_to(db, consultation, body)
        audit_consultation(
            db, caller, "add_participant", consultation, request, detail=participant.role.value
        )
        return json_response(
            ParticipantOut(
                id=participant.id,
                role=participant.role,
                display_name=participant.display_name,
                professional_id=participant.professional_id,
                patient_id=participant.patient_id,
                council_label=None,
                removed=False,
            ),
            status=201,
        )


async def add_participant_to(
    db: AsyncSession, consultation: Consultation, body: AddParticipantIn
) -> ConsultationParticipant:
    active = policy.active_participants(consultation.participants)
    if body.role in PROFESSIONAL_ROLES:
        pro = await db.get(Professional, body.professional_id)
        if pro is None or not pro.active or pro.council is None:
            raise _unprocessable(
                "professional_id", "professional_not_found", "Profissional não encontrado."
            )
        if any(p.professional_id == pro.id for p in active):
            raise conflict("already_participant", "Este profissional já participa do atendimento.")
        participant = ConsultationParticipant(
            role=body.role, professional_id=pro.id, display_name=pro.social_name or pro.name
        )
    elif body.role is ParticipantRole.PACIENTE:
        if consultation.patient_id is None:
            raise conflict("no_patient", "Este atendimento não tem paciente.")
        if any(p.patient_id == consultation.patient_id for p in active):
            raise conflict("already_participant", "O paciente já participa do atendimento.")
        patient = await db.get(Patient, consultation.patient_id)
        assert patient is not None
        participant = ConsultationParticipant(
            role=body.role, patient_id=patient.id, display_name=patient.social_name or patient.name
        )
    else:
        assert body.display_name is not None
        participant = ConsultationParticipant(role=body.role, display_name=body.display_name)
    consultation.participants.append(participant)
    await db.flush()
    return participant


@endpoint(
    routes, "DELETE", "/api/consultations/{id}/participants/{participant_id}",
    summary="Remover participante (e revogar seus convites)", tag=TAG, status=204,
)  # fmt: skip
async def remove_participant(request: web.Request) -> web.Response:
    caller = require_caller(request)
    consultation_id = path_uuid(request, "id")
    participant_id = path_uuid(request, "participant_id")
    now = datetime.now(UTC)
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await managed_consultation(db, caller, consultation_id)
        require_open(consultation)
        participant = next(
            (
                p
                for p in policy.active_participants(consultation.participants)
                if p.id == participant_id
            ),
            None,
        )
        if participant is None:
            raise not_found("Participante")
        participant.removed_at = now
        for invite in await db.scalars(
            select(Invite).where(
                Invite.participant_id == participant.id, Invite.revoked_at.is_(None)
            )
        ):
            invite.revoked_at = now
        audit_consultation(
            db, caller, "remove_participant", consultation, request, detail=participant.role.value
        )
    return web.Response(status=204)


@endpoint(
    routes, "POST", "/api/consultations/{id}/cancel", summary="Cancelar atendimento",
    tag=TAG, body=CancelIn, response=ConsultationOut,
)  # fmt: skip
async def cancel(request: web.Request) -> web.Response:
    caller = require_caller(request)
    consultation_id = path_uuid(request, "id")
    body = await parse_body(request, CancelIn)
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await managed_consultation(db, caller, consultation_id)
        if consultation.status is not ConsultationStatus.SCHEDULED:
            raise conflict("not_cancellable", "Só atendimentos ainda não iniciados são cancelados.")
        consultation.cancel(body.reason)
        now = datetime.now(UTC)
        for invite in await db.scalars(
            select(Invite).where(
                Invite.consultation_id == consultation.id, Invite.revoked_at.is_(None)
            )
        ):
            invite.revoked_at = now
        # The reason is free text and may be clinical: it stays out of the audit detail.
        audit_consultation(db, caller, "cancel", consultation, request)
        await db.flush()
        return json_response((await render(db, caller, [consultation]))[0])
