"""Patients' registry data (identity and contact, not the clinical record)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, Select, or_, select

from server.api.errors import conflict, forbidden, not_found
from server.api.fields import Cns, Cpf, Name, ShortText, Uf
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_body, parse_query, path_uuid
from server.audit import record_audit
from server.auth import policy
from server.auth.caller import require_caller
from server.auth.tokens import Caller
from server.db.models import Consultation, ConsultationParticipant, Patient
from server.identifiers import digits_only
from server.keys import DB_SESSIONS

routes = web.RouteTableDef()
TAG = "patients"
SEARCH_LIMIT = 50


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    social_name: Name | None = None
    cpf: Cpf | None = None
    cns: Cns | None = None
    birth_date: date
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()\-]{8,20}$")] | None = None
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    municipality: ShortText | None = None
    uf: Uf | None = None

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if self.cpf is None and self.cns is None:
            message = "Informe o CPF ou o CNS do paciente."
            raise PydanticCustomError("identifier_required", message, {"pt": message})
        today = datetime.now(UTC).date()
        if not (today - timedelta(days=130 * 366) <= self.birth_date <= today):
            message = "Data de nascimento inválida."
            raise PydanticCustomError("birth_date_invalid", message, {"pt": message})
        return self


class PatientOut(BaseModel):
    id: uuid.UUID
    name: str
    social_name: str | None
    cpf: str | None
    cns: str | None
    birth_date: date
    phone: str | None
    email: str | None
    municipality: str | None
    uf: str | None

    @classmethod
    def of(cls, patient: Patient) -> PatientOut:
        return cls.model_validate(patient, from_attributes=True)


class PatientQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: Annotated[str, Field(min_length=2, max_length=100)] | None = None
    "Name fragment, or a full CPF/CNS (mask allowed). Without it: the caller's own patients."


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _mine(caller: Caller) -> ColumnElement[bool]:
    """Patients of consultations the caller takes part in (or, gestor/regulador, the Núcleo's)."""
    linked = select(Consultation.patient_id).where(Consultation.patient_id.is_not(None))
    if policy.is_gestor(caller) or caller.is_regulador:
        linked = linked.where(
            or_(
                Consultation.nucleo_id == caller.nucleo_id,
                Consultation.id.in_(_participations(caller)),
            )
        )
    else:
        linked = linked.where(Consultation.id.in_(_participations(caller)))
    return Patient.id.in_(linked)


def _participations(caller: Caller) -> Select[tuple[uuid.UUID]]:
    return select(ConsultationParticipant.consultation_id).where(
        ConsultationParticipant.professional_id == caller.subject_id,
        ConsultationParticipant.removed_at.is_(None),
    )


@endpoint(
    routes, "GET", "/api/patients", summary="Buscar pacientes (nome, CPF ou CNS)", tag=TAG,
    query=PatientQuery, response=list[PatientOut],
)  # fmt: skip
async def list_patients(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_search_patients(caller):
        raise forbidden()
    query = parse_query(request, PatientQuery)
    statement = select(Patient).order_by(Patient.name).limit(SEARCH_LIMIT)
    if query.q:
        raw = digits_only(query.q)
        if raw.isdigit() and len(raw) in (11, 15):
            statement = statement.where(or_(Patient.cpf == raw, Patient.cns == raw))
        else:
            pattern = f"%{_escape(query.q.strip())}%"
            statement = statement.where(
                or_(
                    Patient.name.ilike(pattern, escape="\\"),
                    Patient.social_name.ilike(pattern, escape="\\"),
                )
            )
    else:
        statement = statement.where(_mine(caller))
    async with request.app[DB_SESSIONS].begin() as db:
        rows = (await db.scalars(statement)).all()
        # Each patient whose data left the server gets a line in their trail.
        for patient in rows:
            record_audit(
                db, caller, "search", "patient", patient.id, patient_id=patient.id,
                request=request, detail="GET /api/patients",
            )  # fmt: skip
        return json_response([PatientOut.of(p) for p in rows])


@endpoint(
    routes, "POST", "/api/patients", summary="Cadastrar paciente", tag=TAG,
    body=PatientIn, response=PatientOut, status=201,
)  # fmt: skip
async def create_patient(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_create_patient(caller):
        raise forbidden("Apenas profissionais cadastram pacientes.")
    body = await parse_body(request, PatientIn)
    async with request.app[DB_SESSIONS].begin() as db:
        if body.cpf and await db.scalar(select(Patient.id).where(Patient.cpf == body.cpf)):
            raise conflict("cpf_taken", "Já existe um paciente com este CPF.")
        if body.cns and await db.scalar(select(Patient.id).where(Patient.cns == body.cns)):
            raise conflict("cns_taken", "Já existe um paciente com este CNS.")
        patient = Patient(**body.model_dump())
        db.add(patient)
        await db.flush()
        record_audit(
            db, caller, "create", "patient", patient.id, patient_id=patient.id, request=request
        )
        return json_response(PatientOut.of(patient), status=201)


@endpoint(
    routes, "GET", "/api/patients/{id}", summary="Dados cadastrais do paciente", tag=TAG,
    response=PatientOut,
)  # fmt: skip
async def get_patient(request: web.Request) -> web.Response:
    caller = require_caller(request)
    patient_id = path_uuid(request, "id")
    async with request.app[DB_SESSIONS].begin() as db:
        patient = await db.get(Patient, patient_id)
        if patient is None:
            raise not_found("Paciente")
        if not policy.can_read_patient(caller, patient):
            raise forbidden()
        record_audit(
            db, caller, "read", "patient", patient.id, patient_id=patient.id, request=request
        )
        return json_response(PatientOut.of(patient))
