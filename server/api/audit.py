"""The audit trail, read by the gestor of a Núcleo (their Núcleo's events only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from server.api.errors import forbidden
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_query
from server.audit import record_audit
from server.auth import policy
from server.auth.caller import require_caller
from server.db.models import AuditEvent
from server.keys import DB_SESSIONS

routes = web.RouteTableDef()
TAG = "audit"


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_id: uuid.UUID | None = None
    consultation_id: uuid.UUID | None = None
    actor_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    action: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    resource_type: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    outcome: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    before_id: int | None = Field(default=None, ge=1, le=2**62)
    "Pagination: events older than this id (newest first)."
    limit: int = Field(default=100, ge=1, le=500)


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: uuid.UUID | None
    consultation_id: uuid.UUID | None
    nucleo_id: uuid.UUID | None
    ip: str | None
    outcome: str
    detail: str | None


@endpoint(
    routes, "GET", "/api/audit", summary="Trilha de auditoria do Núcleo (gestor)", tag=TAG,
    query=AuditQuery, response=list[AuditEventOut],
)  # fmt: skip
async def list_audit(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_read_audit(caller, caller.nucleo_id):
        raise forbidden("A trilha de auditoria é visível ao gestor do Núcleo.")
    query = parse_query(request, AuditQuery)
    statement = (
        select(AuditEvent)
        .where(AuditEvent.nucleo_id == caller.nucleo_id)
        .order_by(AuditEvent.id.desc())
        .limit(query.limit)
    )
    for column, value in (
        (AuditEvent.patient_id, query.patient_id),
        (AuditEvent.consultation_id, query.consultation_id),
        (AuditEvent.actor_id, query.actor_id),
        (AuditEvent.action, query.action),
        (AuditEvent.resource_type, query.resource_type),
        (AuditEvent.outcome, query.outcome),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if query.since is not None:
        statement = statement.where(AuditEvent.at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEvent.at < query.until)
    if query.before_id is not None:
        statement = statement.where(AuditEvent.id < query.before_id)
    async with request.app[DB_SESSIONS].begin() as db:
        rows = (await db.scalars(statement)).all()
        # Reading the trail is itself recorded (after the query, so it is not in this page).
        record_audit(db, caller, "read", "audit_trail", request=request)
        return json_response([AuditEventOut.model_validate(e, from_attributes=True) for e in rows])
