"""HTTP API of the Segunda Opinião Formativa library.

A specialist turns an answered case into a draft SOF (text scrubbed of identifiers), then
publishes it; every professional can search and read published SOFs. A SOF holds no patient
data, so reading it is not audited as clinical access; creating one from a case is.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from server.api.cases import audit_case, case_errors
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_body, parse_query, path_uuid
from server.auth.caller import require_professional
from server.cases import chat as case_chat
from server.cases.service import CaseError
from server.db.base import utcnow
from server.keys import DB_SESSIONS
from server.sof import service
from server.sof.models import Sof, SofStatus

routes = web.RouteTableDef()
TAG = "sof"

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=20000)]
Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SofIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Short
    question: Long
    answer: Long
    references: list[Item] = Field(min_length=1, max_length=50)
    tags: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    ciap2: list[Annotated[str, StringConstraints(max_length=5)]] = Field(
        default_factory=list, max_length=10
    )


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=100)
    tag: str | None = Field(default=None, max_length=40)
    ciap2: str | None = Field(default=None, max_length=5)
    limit: int = Field(default=50, ge=1, le=200)


class SofSummaryOut(BaseModel):
    id: uuid.UUID
    title: str
    specialty: str
    tags: list[str]
    ciap2: list[str]
    status: SofStatus
    published_at: datetime | None
    nucleo_id: uuid.UUID


class SofOut(SofSummaryOut):
    question: str
    answer: str
    references: list[str]
    author_id: uuid.UUID


class SofListOut(BaseModel):
    items: list[SofSummaryOut]


def sof_json(sof: Sof, full: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(sof.id),
        "title": sof.title,
        "specialty": sof.specialty,
        "tags": [t for t in sof.tags.split(",") if t],
        "ciap2": [c for c in sof.ciap2.split(",") if c],
        "status": sof.status.value,
        "published_at": None if sof.published_at is None else sof.published_at.isoformat(),
        "nucleo_id": str(sof.nucleo_id),
    }
    if full:
        body |= {
            "question": sof.question,
            "answer": sof.answer,
            "references": sof.references.split("\n"),
            "author_id": str(sof.author_id),
        }
    return body


@endpoint(
    routes, "POST", "/api/cases/{case_id}/sof", summary="Criar SOF a partir do caso", tag=TAG,
    body=SofIn, response=SofOut, status=201,
)  # fmt: skip
@case_errors
async def create_sof(request: web.Request) -> web.Response:
    caller = require_professional(request)
    case_id = path_uuid(request, "case_id")
    body = await parse_body(request, SofIn)
    async with request.app[DB_SESSIONS].begin() as db:
        case = await case_chat.load_case(db, caller, case_id)
        sof = await service.create_from_case(
            db,
            caller.subject_id,
            case,
            service.SofDraft(
                body.title, body.question, body.answer, body.references, body.tags, body.ciap2
            ),
        )
        audit_case(db, request, caller, "export", case)
        payload = sof_json(sof)
    return json_response(payload, status=201)


async def _load(request: web.Request, db: Any, sof_id: uuid.UUID, caller_id: uuid.UUID) -> Sof:
    sof = await db.get(Sof, sof_id)
    if sof is None or (sof.status is not SofStatus.PUBLISHED and sof.author_id != caller_id):
        raise CaseError(404, "not_found", "SOF não encontrada.")
    return sof  # type: ignore[no-any-return]


@endpoint(
    routes, "POST", "/api/sof/{sof_id}/publish", summary="Publicar SOF", tag=TAG,
    response=SofOut,
)  # fmt: skip
@case_errors
async def publish_sof(request: web.Request) -> web.Response:
    caller = require_professional(request)
    sof_id = path_uuid(request, "sof_id")
    async with request.app[DB_SESSIONS].begin() as db:
        sof = await _load(request, db, sof_id, caller.subject_id)
        service.publish(sof, caller.subject_id, utcnow())
        payload = sof_json(sof)
    return json_response(payload)


@endpoint(
    routes, "GET", "/api/sof", summary="Buscar SOFs publicadas", tag=TAG, query=SearchQuery,
    response=SofListOut,
)  # fmt: skip
@case_errors
async def search_sof(request: web.Request) -> web.Response:
    require_professional(request)
    query = parse_query(request, SearchQuery)
    async with request.app[DB_SESSIONS]() as db:
        found = await service.search(db, query.q, query.tag, query.ciap2, query.limit)
        items = [sof_json(s, full=False) for s in found]
    return json_response({"items": items})


@endpoint(
    routes, "GET", "/api/sof/{sof_id}", summary="Ler SOF", tag=TAG, response=SofOut,
)  # fmt: skip
@case_errors
async def get_sof(request: web.Request) -> web.Response:
    caller = require_professional(request)
    sof_id = path_uuid(request, "sof_id")
    async with request.app[DB_SESSIONS]() as db:
        payload = sof_json(await _load(request, db, sof_id, caller.subject_id))
    return json_response(payload)
