"""HTTP API of asynchronous teleconsultoria: cases, transitions, queue deadlines, case chat.

Every read or write of a case leaves an audit event in the same transaction. Notifications
and broadcasts go out only after the transaction has committed. A database that cannot be
reached answers 503 with a pt-BR message: the client keeps its message and retries with the
same ``client_msg_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from functools import wraps
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.errors import ApiError, forbidden
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_body, parse_query, path_uuid
from server.audit import record_audit, request_ip
from server.auth.caller import require_professional
from server.auth.tokens import Caller
from server.cases import chat as case_chat
from server.cases import queries, service
from server.cases.access import case_roles, is_regulador_of
from server.cases.deadlines import (
    MAX_TOTAL_HOURS,
    Deadlines,
    DeadlineTooLongError,
    InvalidDeadlineError,
)
from server.cases.models import Case, CaseStatus, CaseTransition, PatientSex
from server.cases.notifications import deliver
from server.cases.realtime import (
    CASE_CHAT_WRITER,
    broadcast_message,
    broadcast_receipt,
    register,
    setup_chat_writer,
)
from server.cases.service import STATUS_PT, CaseError, NewCase, Outcome
from server.chat import MAX_CLIENT_MSG_ID_CHARS, MAX_TEXT_CHARS
from server.chat import receipts as chat_receipts
from server.chat.store import case_channel
from server.db.base import utcnow
from server.db.models import AccountRole, Professional
from server.keys import DB_SESSIONS, SIO

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()
TAG = "cases"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]

SLA_SWEEP_INTERVAL_S = 300.0

# ------------------------------------------------------------------------- plumbing


def case_errors(handler: Handler) -> Handler:
    """CaseError → its 4xx (an unreachable database → 503 is the error middleware's job)."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except CaseError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from exc

    return wrapped


def audit_case(
    db: AsyncSession, request: web.Request, caller: Caller, action: str, case: Case
) -> None:
    record_audit(
        db,
        caller,
        action,
        "case",
        case.id,
        patient_id=case.patient_id,
        consultation_id=case.consultation_id,
        nucleo_id=case.nucleo_id,
        request=request,
    )


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


# Response shapes: the handlers build plain dicts (shared with the /cases socket events); these
# models describe them for the OpenAPI document, and the fuzz run checks that they agree.


class CaseSummaryOut(BaseModel):
    id: uuid.UUID
    status: CaseStatus
    status_label: str
    specialty: str
    nucleo_id: uuid.UUID
    ponto_id: uuid.UUID
    solicitante_id: uuid.UUID
    regulador_id: uuid.UUID | None
    specialist_id: uuid.UUID | None
    identified: bool
    received_at: datetime
    regulation_due_at: datetime
    answer_due_at: datetime
    due_at: datetime | None
    overdue: bool
    due_soon: bool
    answered_at: datetime | None
    closed_at: datetime | None
    my_roles: list[str]


class TransitionOut(BaseModel):
    action: str
    from_status: CaseStatus | None = Field(alias="from")
    to: CaseStatus
    actor_id: uuid.UUID
    at: datetime
    reason: str | None


class CaseDetailOut(CaseSummaryOut):
    consultation_id: uuid.UUID
    question: str
    patient_id: uuid.UUID | None
    patient_age_years: int | None
    patient_sex: PatientSex | None
    answer: str | None
    outcome_reason: str | None
    satisfaction: int | None
    referral_avoided: bool | None
    transitions: list[TransitionOut]


class CaseListOut(BaseModel):
    items: list[CaseSummaryOut]


class DeadlinesOut(BaseModel):
    nucleo_id: uuid.UUID
    regulation_hours: int
    specialist_hours: int
    total_hours: int
    max_total_hours: int


class AuthorOut(BaseModel):
    kind: str
    id: str
    name: str


class MessageOut(BaseModel):
    id: int
    client_msg_id: str
    author: AuthorOut
    text: str
    attachment_id: str | None
    created_at: datetime


class MessagePostOut(BaseModel):
    message: MessageOut
    created: bool


class MessagePageOut(BaseModel):
    items: list[MessageOut]
    next_after_id: int | None


class ReadOut(BaseModel):
    last_read: int


class ReceiptOut(BaseModel):
    reader_kind: str
    reader_id: str
    last_read: int


class ReceiptListOut(BaseModel):
    items: list[ReceiptOut]


def case_summary(case: Case, caller: Caller, now: datetime) -> dict[str, Any]:
    sla = queries.sla(case, now)
    return {
        "id": str(case.id),
        "status": case.status.value,
        "status_label": STATUS_PT[case.status],
        "specialty": case.specialty,
        "nucleo_id": str(case.nucleo_id),
        "ponto_id": str(case.ponto_id),
        "solicitante_id": str(case.solicitante_id),
        "regulador_id": None if case.regulador_id is None else str(case.regulador_id),
        "specialist_id": None if case.specialist_id is None else str(case.specialist_id),
        "identified": case.patient_id is not None,
        "received_at": iso(case.received_at),
        "regulation_due_at": iso(case.regulation_due_at),
        "answer_due_at": iso(case.answer_due_at),
        "due_at": iso(sla.due_at),
        "overdue": sla.overdue,
        "due_soon": sla.due_soon,
        "answered_at": iso(case.answered_at),
        "closed_at": iso(case.closed_at),
        "my_roles": sorted(r.value for r in case_roles(caller, case)),
    }


def case_detail(
    case: Case, caller: Caller, now: datetime, transitions: Sequence[CaseTransition]
) -> dict[str, Any]:
    return {
        **case_summary(case, caller, now),
        "consultation_id": str(case.consultation_id),
        "question": case.question,
        "patient_id": None if case.patient_id is None else str(case.patient_id),
        "patient_age_years": case.patient_age_years,
        "patient_sex": None if case.patient_sex is None else case.patient_sex.value,
        "answer": case.answer,
        "outcome_reason": case.outcome_reason,
        "satisfaction": case.satisfaction,
        "referral_avoided": case.referral_avoided,
        "transitions": [
            {
                "action": t.action,
                "from": None if t.from_status is None else t.from_status.value,
                "to": t.to_status.value,
                "actor_id": str(t.actor_id),
                "at": t.at.isoformat(),
                "reason": t.reason,
            }
            for t in transitions
        ],
    }


# ------------------------------------------------------------------------- cases


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nucleo_id: uuid.UUID
    specialty: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]
    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=10, max_length=8000)
    ]
    patient_id: uuid.UUID | None = None
    patient_age_years: int | None = Field(default=None, ge=0, le=130)
    patient_sex: PatientSex | None = None


@endpoint(
    routes, "POST", "/api/cases", summary="Abrir caso de teleconsultoria assíncrona", tag=TAG,
    body=CaseIn, response=CaseDetailOut, status=201,
)  # fmt: skip
@case_errors
async def create_case(request: web.Request) -> web.Response:
    caller = require_professional(request)
    body = await parse_body(request, CaseIn)
    now = utcnow()
    async with request.app[DB_SESSIONS].begin() as db:
        outcome = await service.submit(
            db,
            caller,
            NewCase(
                body.nucleo_id,
                body.specialty,
                body.question,
                body.patient_id,
                body.patient_age_years,
                body.patient_sex,
            ),
            now,
        )
        audit_case(db, request, caller, "create", outcome.case)
        transitions = await service.transitions(db, outcome.case.id)
        payload = case_detail(outcome.case, caller, now, transitions)
    await deliver(request.app, outcome.notices)
    return json_response(payload, status=201)


class CaseListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    view: Literal["mine", "queue", "inbox"] = "mine"
    include_closed: bool = False


@endpoint(
    routes, "GET", "/api/cases",
    summary="Listar casos (meus, fila de regulação, caixa do especialista)", tag=TAG,
    query=CaseListQuery, response=CaseListOut,
)  # fmt: skip
@case_errors
async def list_cases(request: web.Request) -> web.Response:
    """``view=mine`` (solicitante), ``queue`` (regulador: by due time), ``inbox`` (specialist)."""
    caller = require_professional(request)
    query = parse_query(request, CaseListQuery)
    now = utcnow()
    async with request.app[DB_SESSIONS].begin() as db:
        cases: Sequence[Case]
        if query.view == "queue":
            if caller.nucleo_id is None or not is_regulador_of(caller, caller.nucleo_id):
                raise forbidden("A fila do Núcleo é restrita aos reguladores.")
            cases = await queries.queue(db, caller.nucleo_id, include_final=query.include_closed)
        elif query.view == "inbox":
            cases = await queries.inbox(db, caller.subject_id)
        else:
            cases = await queries.by_solicitante(db, caller.subject_id)
        record_audit(db, caller, "list", "case", None, request=request, detail=f"view={query.view}")
        items = [case_summary(case, caller, now) for case in cases]
    return json_response({"items": items})


@endpoint(
    routes, "GET", "/api/cases/{case_id}", summary="Detalhes do caso", tag=TAG,
    response=CaseDetailOut,
)  # fmt: skip
@case_errors
async def get_case(request: web.Request) -> web.Response:
    caller = require_professional(request)
    case_id = path_uuid(request, "case_id")
    now = utcnow()
    async with request.app[DB_SESSIONS].begin() as db:
        case = await case_chat.load_case(db, caller, case_id)
        audit_case(db, request, caller, "read", case)
        payload = case_detail(case, caller, now, await service.transitions(db, case.id))
    return json_response(payload)


# ------------------------------------------------------------------------- transitions


class NoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    specialist_id: uuid.UUID


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    satisfaction: int = Field(ge=1, le=5)
    referral_avoided: bool


Action = Callable[[AsyncSession, Caller, Case, Any, datetime], Awaitable[Outcome]]

ACTIONS: dict[str, tuple[type[BaseModel], Action]] = {
    "claim": (NoBody, lambda db, c, case, b, now: service.claim(db, c, case, now)),
    "assign": (
        AssignIn,
        lambda db, c, case, b, now: service.assign(db, c, case, b.specialist_id, now),
    ),
    "request-info": (
        ReasonIn,
        lambda db, c, case, b, now: service.request_info(db, c, case, b.reason, now),
    ),
    "provide-info": (
        TextIn,
        lambda db, c, case, b, now: service.provide_info(db, c, case, b.text, now),
    ),
    "answer": (TextIn, lambda db, c, case, b, now: service.answer(db, c, case, b.text, now)),
    "follow-up": (
        TextIn,
        lambda db, c, case, b, now: service.follow_up(db, c, case, b.text, now),
    ),
    "close": (
        CloseIn,
        lambda db, c, case, b, now: service.close(
            db, c, case, b.satisfaction, b.referral_avoided, now
        ),
    ),
    "return": (
        ReasonIn,
        lambda db, c, case, b, now: service.return_case(db, c, case, b.reason, now),
    ),
    "refuse": (ReasonIn, lambda db, c, case, b, now: service.refuse(db, c, case, b.reason, now)),
}


ACTION_SUMMARIES = {
    "claim": "Assumir a regulação do caso",
    "assign": "Encaminhar o caso a um especialista",
    "request-info": "Pedir complemento ao solicitante",
    "provide-info": "Complementar o caso",
    "answer": "Responder o caso",
    "follow-up": "Enviar pergunta de seguimento",
    "close": "Encerrar e avaliar o caso",
    "return": "Devolver o caso à regulação",
    "refuse": "Recusar o caso",
}


def _transition(name: str) -> Handler:
    """One route per action, so that each is documented with its own body."""
    model, action = ACTIONS[name]

    async def transition(request: web.Request) -> web.Response:
        caller = require_professional(request)
        case_id = path_uuid(request, "case_id")
        body: BaseModel = NoBody() if model is NoBody else await parse_body(request, model)
        now = utcnow()
        async with request.app[DB_SESSIONS].begin() as db:
            case = await case_chat.load_case(db, caller, case_id)
            outcome = await action(db, caller, case, body, now)
            audit_case(db, request, caller, "update", case)
            await db.flush()
            payload = case_detail(case, caller, now, await service.transitions(db, case.id))
        await deliver(request.app, outcome.notices)
        return json_response(payload)

    return case_errors(transition)


for _name, (_model, _) in ACTIONS.items():
    endpoint(
        routes, "POST", f"/api/cases/{{case_id}}/{_name}", summary=ACTION_SUMMARIES[_name],
        tag=TAG, body=None if _model is NoBody else _model, response=CaseDetailOut,
    )(_transition(_name))  # fmt: skip


# ------------------------------------------------------------------------- deadlines


class DeadlinesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    regulation_hours: int = Field(ge=1, le=MAX_TOTAL_HOURS)
    specialist_hours: int = Field(ge=1, le=MAX_TOTAL_HOURS)


def deadlines_json(nucleo_id: uuid.UUID, deadlines: Deadlines) -> dict[str, Any]:
    return {
        "nucleo_id": str(nucleo_id),
        "regulation_hours": deadlines.regulation_hours,
        "specialist_hours": deadlines.specialist_hours,
        "total_hours": deadlines.total_hours,
        "max_total_hours": MAX_TOTAL_HOURS,
    }


def _may_read_deadlines(caller: Caller, nucleo_id: uuid.UUID) -> bool:
    return caller.nucleo_id == nucleo_id


@endpoint(
    routes, "GET", "/api/nucleos/{nucleo_id}/case-deadlines",
    summary="Prazos da fila de casos do Núcleo", tag=TAG, response=DeadlinesOut,
)  # fmt: skip
@case_errors
async def get_deadlines(request: web.Request) -> web.Response:
    caller = require_professional(request)
    nucleo_id = path_uuid(request, "nucleo_id")
    if not _may_read_deadlines(caller, nucleo_id):
        raise forbidden()
    async with request.app[DB_SESSIONS]() as db:
        deadlines = await service.deadlines_for(db, nucleo_id)
    return json_response(deadlines_json(nucleo_id, deadlines))


@endpoint(
    routes, "PUT", "/api/nucleos/{nucleo_id}/case-deadlines",
    summary="Definir os prazos da fila de casos (gestor)", tag=TAG, body=DeadlinesIn,
    response=DeadlinesOut,
)  # fmt: skip
@case_errors
async def put_deadlines(request: web.Request) -> web.Response:
    """Gestor of the Núcleo only; regulation + specialist above 72 h is refused (art. 448 §3)."""
    caller = require_professional(request, AccountRole.GESTOR)
    nucleo_id = path_uuid(request, "nucleo_id")
    if caller.nucleo_id != nucleo_id:
        raise forbidden("Somente o gestor do Núcleo define seus prazos.")
    body = await parse_body(request, DeadlinesIn)
    try:
        deadlines = Deadlines(body.regulation_hours, body.specialist_hours)
    except DeadlineTooLongError as exc:
        raise ApiError(
            422,
            "deadline_above_72h",
            f"O prazo total (regulação + especialista = "
            f"{body.regulation_hours + body.specialist_hours} h) não pode passar de "
            f"{MAX_TOTAL_HOURS} horas a partir do recebimento (art. 448 §3).",
        ) from exc
    except InvalidDeadlineError as exc:
        raise ApiError(422, "deadline_invalid", "Os prazos devem ter ao menos 1 hora.") from exc
    async with request.app[DB_SESSIONS].begin() as db:
        await service.set_deadlines(db, nucleo_id, deadlines, caller.subject_id, utcnow())
        record_audit(db, caller, "update", "queue_deadline", nucleo_id, request=request)
    return json_response(deadlines_json(nucleo_id, deadlines))


# ------------------------------------------------------------------------- chat


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_msg_id: str = Field(min_length=1, max_length=MAX_CLIENT_MSG_ID_CHARS)
    text: str = Field(default="", max_length=MAX_TEXT_CHARS)
    attachment_id: uuid.UUID | None = None


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after_id: int | None = Field(default=None, ge=0)
    limit: int = Field(default=100, ge=1, le=500)


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    last_id: int = Field(ge=0)


async def _display_name(db: AsyncSession, caller: Caller) -> str:
    professional = await db.get(Professional, caller.subject_id)
    if professional is None:
        raise CaseError(401, "unauthorized", "Conta inexistente.")
    return professional.social_name or professional.name


@endpoint(
    routes, "POST", "/api/cases/{case_id}/messages", summary="Enviar mensagem no caso",
    tag=TAG, body=MessageIn, response=MessagePostOut, status=201, also=(200,),
)  # fmt: skip
@case_errors
async def post_message(request: web.Request) -> web.Response:
    """Committed before the answer: a 201/200 means stored. Retrying the same id is a 200."""
    caller = require_professional(request)
    case_id = path_uuid(request, "case_id")
    body = await parse_body(request, MessageIn)
    async with request.app[DB_SESSIONS]() as db:
        name = await _display_name(db, caller)
    # Shares the group commit of the /cases sockets; returns once the transaction committed.
    message, created = await request.app[CASE_CHAT_WRITER].submit(
        case_chat.CaseSend(
            caller,
            name,
            case_id,
            body.client_msg_id,
            body.text,
            body.attachment_id,
            request_ip(request),
        )
    )
    payload = case_chat.message_json(message)
    if created:
        await broadcast_message(request.app, case_id, payload)
    return json_response({"message": payload, "created": created}, status=201 if created else 200)


@endpoint(
    routes, "GET", "/api/cases/{case_id}/messages", summary="Histórico de mensagens do caso",
    tag=TAG, query=HistoryQuery, response=MessagePageOut,
)  # fmt: skip
@case_errors
async def get_messages(request: web.Request) -> web.Response:
    caller = require_professional(request)
    case_id = path_uuid(request, "case_id")
    query = parse_query(request, HistoryQuery)
    async with request.app[DB_SESSIONS].begin() as db:
        _, messages = await case_chat.read_history(
            db, caller, case_id, query.after_id, query.limit, request_ip(request)
        )
        items = [case_chat.message_json(m) for m in messages]
    return json_response(
        {
            "items": items,
            "next_after_id": items[-1]["id"] if len(items) == query.limit else None,
        }
    )


@endpoint(
    routes, "POST", "/api/cases/{case_id}/read", summary="Marcar mensagens como lidas",
    tag=TAG, body=ReadIn, response=ReadOut,
)  # fmt: skip
@case_errors
async def post_read(request: web.Request) -> web.Response:
    caller = require_professional(request)
    case_id = path_uuid(request, "case_id")
    body = await parse_body(request, ReadIn)
    async with request.app[DB_SESSIONS].begin() as db:
        name = await _display_name(db, caller)
        _, position = await case_chat.read_up_to(db, caller, name, case_id, body.last_id)
    await broadcast_receipt(request.app, case_id, caller.subject_id, position)
    return json_response({"last_read": position})


@endpoint(
    routes, "GET", "/api/cases/{case_id}/receipts", summary="Confirmações de leitura do caso",
    tag=TAG, response=ReceiptListOut,
)  # fmt: skip
@case_errors
async def get_receipts(request: web.Request) -> web.Response:
    caller = require_professional(request)
    case_id = path_uuid(request, "case_id")
    async with request.app[DB_SESSIONS]() as db:
        case = await case_chat.load_case(db, caller, case_id)
        rows = await chat_receipts(db, case_channel(case.id))
        items = [
            {"reader_kind": r.reader_kind, "reader_id": r.reader_id, "last_read": r.last_read_id}
            for r in rows
        ]
    return json_response({"items": items})


# ------------------------------------------------------------------------- SLA sweep


async def sla_sweep(app: web.Application, now: datetime) -> int:
    """Alert the regulation (and the specialist) once when a case gets near-due and overdue."""
    notices: list[service.Notice] = []
    async with app[DB_SESSIONS].begin() as db:
        for case in await queries.open_cases(db):
            sla = queries.sla(case, now)
            recipients = (*await service.reguladores_of(db, case.nucleo_id), case.specialist_id)
            people = tuple(dict.fromkeys(r for r in recipients if r is not None))
            if sla.overdue and case.overdue_alerted_at is None:
                case.overdue_alerted_at = now
                notices.append(
                    service.Notice(
                        "case_overdue", case.id, people, "Caso com prazo vencido", case.status
                    )
                )
            elif sla.due_soon and case.due_soon_alerted_at is None:
                case.due_soon_alerted_at = now
                notices.append(
                    service.Notice(
                        "case_due_soon", case.id, people, "Caso perto do prazo", case.status
                    )
                )
    await deliver(app, notices)
    return len(notices)


async def _sla_ctx(app: web.Application) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            await asyncio.sleep(SLA_SWEEP_INTERVAL_S)
            try:
                await sla_sweep(app, utcnow())
            except Exception:  # keep sweeping; the next pass retries
                logger.exception("SLA sweep failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def setup_cases(app: web.Application) -> None:
    """Routes, the /cases Socket.IO namespace (when Socket.IO is attached) and the SLA sweep."""
    app.add_routes(routes)
    setup_chat_writer(app)
    sio = app.get(SIO)
    if sio is not None:
        register(app, sio)
    app.cleanup_ctx.append(_sla_ctx)
