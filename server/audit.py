"""The audit trail: who did what to which record, when and from where.

Callers add the event to the request's own transaction, so a write and its audit event
commit (or roll back) together. Never pass clinical content in ``detail``.
"""

from __future__ import annotations

import uuid

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.tokens import Caller
from server.db.models import AuditEvent

DETAIL_MAX = 400


def request_ip(request: web.Request | None) -> str | None:
    """The peer address; a reverse proxy's X-Forwarded-For is not trusted blindly here."""
    if request is None:
        return None
    remote = request.remote
    return remote[:45] if remote else None


def record_audit(
    db: AsyncSession,
    caller: Caller | None,
    action: str,
    resource_type: str,
    resource_id: object | None = None,
    *,
    patient_id: uuid.UUID | None = None,
    consultation_id: uuid.UUID | None = None,
    nucleo_id: uuid.UUID | None = None,
    request: web.Request | None = None,
    outcome: str = "success",
    detail: str | None = None,
    actor_kind: str | None = None,
    actor_id: str | None = None,
) -> AuditEvent:
    """Add one AuditEvent to ``db`` (not flushed, not committed) and return it.

    ``caller`` None means the system, or an unauthenticated actor described by
    ``actor_kind``/``actor_id`` (e.g. a failed login: kind ``anonymous``, id the CPF's hash).
    """
    kind: str
    actor: str | None
    if caller is not None:
        kind, actor = caller.audit_actor
        if nucleo_id is None:
            nucleo_id = caller.nucleo_id
        if consultation_id is None:
            consultation_id = caller.consultation_id
    else:
        kind, actor = actor_kind or "system", actor_id
    event = AuditEvent(
        actor_kind=kind,
        actor_id=actor,
        action=action[:40],
        resource_type=resource_type[:40],
        resource_id=str(resource_id)[:64] if resource_id is not None else None,
        patient_id=patient_id,
        consultation_id=consultation_id,
        nucleo_id=nucleo_id,
        ip=request_ip(request),
        outcome=outcome[:16],
        detail=detail[:DETAIL_MAX] if detail else None,
    )
    db.add(event)
    return event
