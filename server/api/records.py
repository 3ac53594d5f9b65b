"""HTTP API of the prontuário: consent (TCLE), entries, notes, RATI, corrections, chain check.

Every read and write of a record leaves an audit event in the same transaction; a refused
access leaves one too (outcome ``denied``), in its own transaction since the request fails.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.errors import ApiError, forbidden, not_found
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import invalid_payload, parse_body, path_uuid
from server.audit import record_audit
from server.auth.caller import require_caller
from server.auth.tokens import Caller, CallerKind
from server.db.models import Consultation, Modality, Professional
from server.keys import DB_SESSIONS
from server.realtime import REALTIME
from server.records.access import can_read_consultation, can_read_patient
from server.records.chain import verify_chain
from server.records.consent import ConsentRequest, current_consent, current_term, record_consent
from server.records.errors import RecordError
from server.records.models import ConsentChannel, ConsentDecision, RecordEntry
from server.records.notes import (
    ClinicalNoteIn,
    CorrectionIn,
    RecommendationIn,
    add_clinical_note,
    add_correction,
    add_recommendation,
    clinical_participation,
)

routes = web.RouteTableDef()
TAG = "records"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- request plumbing shared by the records, documents and export modules ------------------


def record_errors(handler: Handler) -> Handler:
    """Turn the domain's RecordError into the API's error shape (the transaction rolls back)."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RecordError as exc:
            raise ApiError(exc.status, exc.code, exc.message, exc.details) from exc

    return wrapped


async def authorize_patient(
    request: web.Request, caller: Caller, patient_id: uuid.UUID, resource_type: str
) -> None:
    """403 (audited) unless ``caller`` may read ``patient_id``'s record."""
    async with request.app[DB_SESSIONS].begin() as db:
        if await can_read_patient(db, caller, patient_id):
            return
        _audit_denied(db, request, caller, resource_type, patient_id)
    # The patient id is not an audit FK here on purpose: a refused caller may have sent an id
    # that does not exist, and the refusal must be stored anyway (it is in resource_id).
    raise forbidden("Você não tem acesso ao prontuário deste paciente.")


async def authorize_consultation(
    request: web.Request, caller: Caller, consultation_id: uuid.UUID, resource_type: str
) -> None:
    """403 (audited) unless ``caller`` may read ``consultation_id``."""
    async with request.app[DB_SESSIONS].begin() as db:
        if await can_read_consultation(db, caller, consultation_id):
            return
        _audit_denied(db, request, caller, resource_type, consultation_id)
    raise forbidden("Você não participa desta consulta.")


def _audit_denied(
    db: AsyncSession,
    request: web.Request,
    caller: Caller,
    resource_type: str,
    resource_id: uuid.UUID,
) -> None:
    record_audit(
        db,
        caller,
        action="read",
        resource_type=resource_type,
        resource_id=resource_id,
        request=request,
        outcome="denied",
        detail=f"{request.method} {request.path}",
    )


# -- response shapes ------------------------------------------------------------------------


class EntryOut(BaseModel):
    id: uuid.UUID
    seq: int
    kind: str
    consultation_id: uuid.UUID | None
    author_kind: str
    author_id: str | None
    corrects_id: uuid.UUID | None
    corrected_by: list[uuid.UUID] = []
    created_at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, entry: RecordEntry, corrected_by: list[uuid.UUID] | None = None) -> EntryOut:
        return cls(
            id=entry.id,
            seq=entry.seq,
            kind=entry.kind.value,
            consultation_id=entry.consultation_id,
            author_kind=entry.author_kind,
            author_id=entry.author_id,
            corrects_id=entry.corrects_id,
            corrected_by=corrected_by or [],
            created_at=entry.created_at,
            payload=json.loads(entry.payload),
            prev_hash=entry.prev_hash,
            hash=entry.hash,
        )


class RecordOut(BaseModel):
    patient_id: uuid.UUID
    entries: list[EntryOut]


class TermOut(BaseModel):
    modality: Modality
    version: int
    title: str
    text: str
    sha256: str


class ConsentIn(BaseModel):
    """A decision about the TCLE. The term version and hash are those of the text shown."""

    model_config = ConfigDict(extra="forbid")

    decision: ConsentDecision
    channel: ConsentChannel
    term_version: Annotated[int, Field(ge=1)] | None = None
    term_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    representative_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    representative_relationship: Annotated[str, Field(min_length=1, max_length=80)] | None = None


class ConsentOut(BaseModel):
    consent_id: uuid.UUID | None
    consultation_id: uuid.UUID
    patient_id: uuid.UUID | None
    decision: ConsentDecision | None
    "None: no decision yet (the media gate stays closed)."
    channel: ConsentChannel | None = None
    term_version: int | None = None
    term_sha256: str | None = None
    decided_at: datetime | None = None
    registered_by_council: str | None = None
    entry_id: uuid.UUID | None = None


class BrokenLinkOut(BaseModel):
    entry_id: uuid.UUID
    seq: int
    reason: str


class ChainOut(BaseModel):
    patient_id: uuid.UUID
    intact: bool
    entries_checked: int
    head_hash: str
    first_broken: BrokenLinkOut | None
    message: str


# -- consent ---------------------------------------------------------------------------------


@endpoint(
    routes, "GET", "/api/consent-terms/{modality}", summary="Texto vigente do TCLE da modalidade",
    tag=TAG, response=TermOut, auth=False,
)  # fmt: skip
async def get_consent_term(request: web.Request) -> web.Response:
    """The current TCLE text for a modality. Public: invitees read it before deciding."""
    try:
        modality = Modality(request.match_info["modality"])
    except ValueError as exc:
        raise not_found("Modalidade") from exc
    async with request.app[DB_SESSIONS].begin() as db:
        term = await current_term(db, modality)
        out = TermOut(
            modality=term.modality,
            version=term.version,
            title=term.title,
            text=term.text,
            sha256=term.sha256,
        )
    return json_response(out)


@endpoint(
    routes, "POST", "/api/consultations/{consultation_id}/consent",
    summary="Registrar aceite, recusa ou revogação do TCLE", tag=TAG, body=ConsentIn,
    response=ConsentOut, status=201,
)  # fmt: skip
@record_errors
async def post_consent(request: web.Request) -> web.Response:
    """Record an acceptance, a refusal or a revocation.

    The patient decides in the browser with their invite's access token (channel ``browser``);
    a professional taking part registers a verbal decision or a legal representative's.
    """
    caller = require_caller(request)
    consultation_id = path_uuid(request, "consultation_id")
    body = await parse_body(request, ConsentIn)
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await db.get(Consultation, consultation_id)
        if consultation is None:
            raise not_found("Consulta")
        registered_by, participant_id = await _consent_actor(db, caller, consultation)
        patient_id = consultation.patient_id
        if patient_id is None:
            raise ApiError(409, "no_patient", "Esta consulta não tem paciente identificado.")
        term_version, term_sha256 = body.term_version, body.term_sha256
        if body.decision is ConsentDecision.REVOKED:
            # A revocation withdraws the decision in force, whatever text it was given for.
            previous = await current_consent(db, consultation.id, patient_id)
            if previous is not None:
                term_version, term_sha256 = previous.term_version, previous.term_sha256
        if term_version is None or term_sha256 is None:
            raise ApiError(
                422,
                "invalid_payload",
                "Dados inválidos.",
                [
                    {"field": f, "code": "missing", "message": "campo obrigatório"}
                    for f, v in (("term_version", term_version), ("term_sha256", term_sha256))
                    if v is None
                ],
            )
        consent = await record_consent(
            db,
            consultation=consultation,
            patient_id=patient_id,
            request=ConsentRequest(
                decision=body.decision,
                channel=body.channel,
                term_version=term_version,
                term_sha256=term_sha256,
                representative_name=body.representative_name,
                representative_relationship=body.representative_relationship,
            ),
            registered_by=registered_by,
            participant_id=participant_id,
        )
        record_audit(
            db,
            caller,
            action="create",
            resource_type="consent",
            resource_id=consent.id,
            patient_id=patient_id,
            consultation_id=consultation.id,
            request=request,
            detail=f"decision={consent.decision.value} channel={consent.channel.value}",
        )
        out = _consent_out(consultation, consent)
    # After the commit: the live room re-checks its seats, so a revocation cuts the patient's
    # media now and an acceptance admits a held patient without waiting for their next join.
    if (namespace := request.app.get(REALTIME)) is not None:
        await namespace.refresh_admission(str(consultation.id))
    return json_response(out, status=201)


async def _consent_actor(
    db: AsyncSession, caller: Caller, consultation: Consultation
) -> tuple[Professional | None, uuid.UUID | None]:
    if caller.kind is CallerKind.PATIENT:
        if (
            caller.consultation_id != consultation.id
            or caller.patient_id != consultation.patient_id
        ):
            raise forbidden("Este convite não é desta consulta.")
        return None, caller.subject_id
    if caller.kind is CallerKind.PROFESSIONAL and caller.professional_id is not None:
        try:
            await clinical_participation(db, consultation.id, caller.professional_id)
        except RecordError as exc:
            if exc.code == "not_a_participant":
                raise forbidden(
                    "Você não participa desta consulta e não pode registrar o consentimento."
                ) from exc
            raise
        return await db.get(Professional, caller.professional_id), None
    raise forbidden("Convidados não registram consentimento do paciente.")


@endpoint(
    routes, "GET", "/api/consultations/{consultation_id}/consent",
    summary="Consentimento em vigor na consulta", tag=TAG, response=ConsentOut,
)  # fmt: skip
async def get_consent(request: web.Request) -> web.Response:
    """The decision in force (what the media gate sees), for the consent screen and the room."""
    caller = require_caller(request)
    consultation_id = path_uuid(request, "consultation_id")
    await authorize_consultation(request, caller, consultation_id, "consent")
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await db.get(Consultation, consultation_id)
        if consultation is None:
            raise not_found("Consulta")
        consent = None
        if consultation.patient_id is not None:
            consent = await current_consent(db, consultation.id, consultation.patient_id)
        record_audit(
            db,
            caller,
            action="read",
            resource_type="consent",
            resource_id=consent.id if consent else None,
            patient_id=consultation.patient_id,
            consultation_id=consultation.id,
            request=request,
        )
        out = _consent_out(consultation, consent)
    return json_response(out)


def _consent_out(consultation: Consultation, consent: Any) -> ConsentOut:
    if consent is None:
        return ConsentOut(
            consent_id=None,
            consultation_id=consultation.id,
            patient_id=consultation.patient_id,
            decision=None,
        )
    return ConsentOut(
        consent_id=consent.id,
        consultation_id=consultation.id,
        patient_id=consent.patient_id,
        decision=consent.decision,
        channel=consent.channel,
        term_version=consent.term_version,
        term_sha256=consent.term_sha256,
        decided_at=consent.decided_at,
        registered_by_council=consent.registered_by_council,
        entry_id=consent.entry_id,
    )


# -- the record -------------------------------------------------------------------------------


@endpoint(
    routes, "GET", "/api/patients/{patient_id}/record", summary="Prontuário do paciente",
    tag=TAG, response=RecordOut,
)  # fmt: skip
async def get_record(request: web.Request) -> web.Response:
    caller = require_caller(request)
    patient_id = path_uuid(request, "patient_id")
    await authorize_patient(request, caller, patient_id, "record")
    async with request.app[DB_SESSIONS].begin() as db:
        entries = (
            await db.scalars(
                select(RecordEntry)
                .where(RecordEntry.patient_id == patient_id)
                .order_by(RecordEntry.seq)
            )
        ).all()
        corrected_by: dict[uuid.UUID, list[uuid.UUID]] = {}
        for entry in entries:
            if entry.corrects_id:
                corrected_by.setdefault(entry.corrects_id, []).append(entry.id)
        record_audit(
            db,
            caller,
            action="read",
            resource_type="record",
            resource_id=patient_id,
            patient_id=patient_id,
            request=request,
            detail=f"{len(entries)} entries",
        )
        out = RecordOut(
            patient_id=patient_id,
            entries=[EntryOut.of(e, corrected_by.get(e.id)) for e in entries],
        )
    return json_response(out)


@endpoint(
    routes, "GET", "/api/patients/{patient_id}/record/verification",
    summary="Verificar a cadeia de integridade do prontuário", tag=TAG, response=ChainOut,
)  # fmt: skip
async def get_record_verification(request: web.Request) -> web.Response:
    caller = require_caller(request)
    patient_id = path_uuid(request, "patient_id")
    await authorize_patient(request, caller, patient_id, "record")
    async with request.app[DB_SESSIONS].begin() as db:
        report = await verify_chain(db, patient_id)
        record_audit(
            db,
            caller,
            action="verify",
            resource_type="record",
            resource_id=patient_id,
            patient_id=patient_id,
            request=request,
            outcome="success" if report.intact else "tampered",
        )
    broken = report.first_broken
    return json_response(
        ChainOut(
            patient_id=patient_id,
            intact=report.intact,
            entries_checked=report.entries_checked,
            head_hash=report.head_hash,
            first_broken=(
                BrokenLinkOut(entry_id=broken.entry_id, seq=broken.seq, reason=broken.reason)
                if broken
                else None
            ),
            message=(
                f"Prontuário íntegro: {report.entries_checked} registros verificados."
                if broken is None
                else f"Prontuário adulterado: o registro nº {broken.seq} não confere."
            ),
        )
    )


async def _write(
    request: web.Request,
    model: Any,
    write: Callable[[AsyncSession, uuid.UUID, Any], Awaitable[RecordEntry]],
    target_name: str,
    resource_type: str,
) -> web.Response:
    caller = require_caller(request)
    if caller.kind is not CallerKind.PROFESSIONAL or caller.professional_id is None:
        raise forbidden("Só profissionais escrevem no prontuário.")
    target_id = path_uuid(request, target_name)
    body = await _parse_any(request, model)
    try:
        async with request.app[DB_SESSIONS].begin() as db:
            entry = await write(db, target_id, body)
            record_audit(
                db,
                caller,
                action="create",
                resource_type=resource_type,
                resource_id=entry.id,
                patient_id=entry.patient_id,
                consultation_id=entry.consultation_id,
                request=request,
            )
            out = EntryOut.of(entry)
    except RecordError as exc:
        if exc.status == 403:
            # The write rolled back; the refusal is recorded in a transaction of its own.
            async with request.app[DB_SESSIONS].begin() as db:
                record_audit(
                    db,
                    caller,
                    action="create",
                    resource_type=resource_type,
                    resource_id=target_id,
                    request=request,
                    outcome="denied",
                    detail=exc.code,
                )
        raise
    return json_response(out, status=201)


async def _parse_any(request: web.Request, model: Any) -> Any:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return await parse_body(request, model)
    # A discriminated union is not a BaseModel: validate it through a TypeAdapter.

    class _Wrapper(BaseModel):
        model_config = ConfigDict(extra="allow")

    raw = await parse_body(request, _Wrapper)
    try:
        return TypeAdapter(model).validate_python(raw.model_dump())
    except ValidationError as exc:
        raise invalid_payload(exc) from exc


@endpoint(
    routes, "POST", "/api/consultations/{consultation_id}/notes",
    summary="Registrar evolução clínica (SOAP)", tag=TAG, body=ClinicalNoteIn,
    response=EntryOut, status=201,
)  # fmt: skip
@record_errors
async def post_note(request: web.Request) -> web.Response:
    """A SOAP clinical note with its coded reasons (CID-10 or CIAP-2)."""
    caller = require_caller(request)
    return await _write(
        request,
        ClinicalNoteIn,
        lambda db, cid, body: add_clinical_note(db, cid, _pid(caller), body),
        "consultation_id",
        "clinical_note",
    )


@endpoint(
    routes, "POST", "/api/consultations/{consultation_id}/recommendations",
    summary="Registrar parte do RATI (solicitação ou resposta)", tag=TAG,
    body=RecommendationIn, response=EntryOut, status=201,
)  # fmt: skip
@record_errors
async def post_recommendation(request: web.Request) -> web.Response:
    """A part of the RATI: ``solicitacao`` by the solicitante, ``resposta`` by the teleconsultor."""
    caller = require_caller(request)
    return await _write(
        request,
        RecommendationIn,
        lambda db, cid, body: add_recommendation(db, cid, _pid(caller), body),
        "consultation_id",
        "recommendation",
    )


@endpoint(
    routes, "POST", "/api/records/{entry_id}/corrections",
    summary="Registrar correção de um registro", tag=TAG, body=CorrectionIn,
    response=EntryOut, status=201,
)  # fmt: skip
@record_errors
async def post_correction(request: web.Request) -> web.Response:
    """A correction: a new entry pointing at the corrected one, which stays unchanged."""
    caller = require_caller(request)
    return await _write(
        request,
        CorrectionIn,
        lambda db, eid, body: add_correction(db, eid, _pid(caller), body),
        "entry_id",
        "correction",
    )


def _pid(caller: Caller) -> uuid.UUID:
    assert caller.professional_id is not None
    return caller.professional_id
