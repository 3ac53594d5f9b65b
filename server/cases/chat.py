"""Case chat on top of the shared durable chat store (server.chat), with case rules and audit.

One implementation for both transports (REST and the ``/cases`` Socket.IO namespace): the
caller opens the transaction, calls ``send``/``read_history``/``read_up_to``, commits, and only
then acknowledges and broadcasts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import chat as chat_store
from server.attachments.models import Attachment
from server.audit import record_audit
from server.auth.tokens import Caller
from server.cases.access import can_view_case
from server.cases.models import FINAL_STATUSES, Case
from server.cases.service import CaseError
from server.chat import ChatAuthor, ChatMessage, InvalidChatMessageError, StoredMessage


def author_of(caller: Caller, display_name: str) -> ChatAuthor:
    return ChatAuthor("professional", str(caller.subject_id), display_name)


def message_json(message: ChatMessage | StoredMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "client_msg_id": message.client_msg_id,
        "author": {
            "kind": message.author_kind,
            "id": message.author_id,
            "name": message.author_name,
        },
        "text": message.text,
        "attachment_id": message.attachment_id,
        "created_at": message.created_at.isoformat(),
    }


async def load_case(db: AsyncSession, caller: Caller, case_id: uuid.UUID) -> Case:
    """The case if the caller takes part in it; 404 otherwise (its existence is not revealed)."""
    case = await db.get(Case, case_id)
    if case is None or not can_view_case(caller, case):
        raise CaseError(404, "not_found", "Caso não encontrado.")
    return case


async def send(
    db: AsyncSession,
    caller: Caller,
    author_name: str,
    case_id: uuid.UUID,
    client_msg_id: str,
    text: str,
    attachment_id: uuid.UUID | None,
    ip: str | None = None,
) -> tuple[Case, StoredMessage, bool]:
    """One message in the caller's transaction (the transports use ``send_many`` in batches)."""
    item = CaseSend(caller, author_name, case_id, client_msg_id, text, attachment_id, ip)
    (outcome,) = await send_many(db, [item])
    if isinstance(outcome, Exception):
        raise outcome
    message, created = outcome
    return await load_case(db, caller, case_id), message, created


@dataclass(frozen=True)
class CaseSend:
    """One ``send`` waiting for the next group commit (see ``send_many``)."""

    caller: Caller
    author_name: str
    case_id: uuid.UUID
    client_msg_id: str
    text: str
    attachment_id: uuid.UUID | None
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """The columns of a case that the chat's rules and audit read (``access.CaseParties``)."""

    id: uuid.UUID
    status: str
    nucleo_id: uuid.UUID
    solicitante_id: uuid.UUID
    specialist_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    consultation_id: uuid.UUID | None


_FACT_COLUMNS = (
    Case.id,
    Case.status,
    Case.nucleo_id,
    Case.solicitante_id,
    Case.specialist_id,
    Case.patient_id,
    Case.consultation_id,
)
# PostgreSQL: one array parameter, so one prepared statement whatever the number of cases (an
# IN list renders a new statement, and a new server-side prepare, for every count).
_PG_CASE_FACTS = (
    f"SELECT {', '.join(c.key for c in _FACT_COLUMNS)} FROM {Case.__tablename__} "
    "WHERE id = ANY($1::uuid[])"
)


async def case_facts(db: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, CaseFacts]:
    """The cases of ``ids`` as they are in this transaction (only the columns chat needs)."""
    connection = await db.connection()
    if connection.dialect.name == "postgresql":
        rows = (await connection.exec_driver_sql(_PG_CASE_FACTS, (list(ids),))).all()
    else:
        rows = (await connection.execute(select(*_FACT_COLUMNS).where(Case.id.in_(ids)))).all()
    return {row[0]: CaseFacts(*row) for row in rows}


async def attachment_cases(
    db: AsyncSession, sends: Sequence[CaseSend]
) -> dict[uuid.UUID, uuid.UUID]:
    """attachment id → its case, for the attachments the sends refer to (most refer to none)."""
    attachment_ids = {s.attachment_id for s in sends if s.attachment_id is not None}
    if not attachment_ids:
        return {}
    rows = await db.execute(
        select(Attachment.id, Attachment.case_id).where(Attachment.id.in_(attachment_ids))
    )
    return {attachment_id: case_id for attachment_id, case_id in rows.all()}


def decide(
    item: CaseSend, case: CaseFacts | None, attachment_case: dict[uuid.UUID, uuid.UUID]
) -> chat_store.NewMessage:
    """The message to store for ``item`` given its case, or the CaseError that refuses it."""
    if case is None or not can_view_case(item.caller, case):
        raise CaseError(404, "not_found", "Caso não encontrado.")
    if case.status in FINAL_STATUSES:
        raise CaseError(409, "case_closed", "O caso está encerrado: não aceita novas mensagens.")
    if item.attachment_id is not None and attachment_case.get(item.attachment_id) != case.id:
        raise CaseError(422, "attachment_invalid", "O anexo não pertence a este caso.")
    try:
        return chat_store.checked(
            chat_store.NewMessage(
                chat_store.case_channel(case.id),
                author_of(item.caller, item.author_name),
                item.client_msg_id,
                item.text,
                None if item.attachment_id is None else str(item.attachment_id),
            )
        )
    except InvalidChatMessageError as exc:
        raise CaseError(422, exc.code, str(exc)) from exc


async def send_many(
    db: AsyncSession, sends: Sequence[CaseSend]
) -> list[tuple[StoredMessage, bool] | Exception]:
    """``send`` for many messages in one transaction: the same rules, one outcome per send.

    Each send is authorised on its own against the case as it is in this transaction (so a
    closed case or a removed specialist is seen at once, no cached membership), with one query
    for all the cases and one for all the attachments. A refused send gets its CaseError and
    the others are still stored; each new message gets its own audit event, written by the
    same statement as the messages. (On PostgreSQL the writer uses ``server.cases.chat_batch``.)
    """
    cases = await case_facts(db, {s.case_id for s in sends})
    attachment_case = await attachment_cases(db, sends)
    outcomes: list[tuple[StoredMessage, bool] | Exception | None] = [None] * len(sends)
    accepted: list[tuple[int, chat_store.NewMessage, dict[str, Any]]] = []
    for index, item in enumerate(sends):
        case = cases.get(item.case_id)
        try:
            message = decide(item, case, attachment_case)
        except CaseError as exc:
            outcomes[index] = exc
            continue
        assert case is not None
        accepted.append((index, message, audit_entry(item.caller, case, item.ip)))
    if accepted:
        stored = await chat_store.append_many(
            db, [message for _, message, _ in accepted], [audit for _, _, audit in accepted]
        )
        for (index, _, _), outcome in zip(accepted, stored, strict=True):
            outcomes[index] = outcome
    return [outcome for outcome in outcomes if outcome is not None]


async def read_history(
    db: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    after_id: int | None,
    limit: int,
    ip: str | None = None,
) -> tuple[Case, Sequence[ChatMessage]]:
    case = await load_case(db, caller, case_id)
    messages = await chat_store.history(db, chat_store.case_channel(case.id), after_id, limit)
    _audit(db, caller, "read", None, case, ip)
    return case, messages


async def read_up_to(
    db: AsyncSession, caller: Caller, author_name: str, case_id: uuid.UUID, last_id: int
) -> tuple[Case, int]:
    case = await load_case(db, caller, case_id)
    position = await chat_store.mark_read(
        db, chat_store.case_channel(case.id), author_of(caller, author_name), last_id
    )
    return case, position


def audit_entry(caller: Caller, case: CaseFacts, ip: str | None) -> dict[str, Any]:
    """What ``_audit(db, caller, "create", message_id, case, ip)`` would write, but the time
    and the message id, which the store fills in (``chat_store.AUDIT_COLUMNS``)."""
    actor_kind, actor_id = caller.audit_actor
    return {
        "actor_kind": actor_kind,
        "actor_id": actor_id,
        "action": "create",
        "resource_type": "case_message",
        "patient_id": case.patient_id,
        "consultation_id": case.consultation_id,
        "nucleo_id": case.nucleo_id,
        "ip": ip,
        "outcome": "success",
        "detail": f"case {case.id}",
    }


def _audit(
    db: AsyncSession,
    caller: Caller,
    action: str,
    message_id: int | None,
    case: Case,
    ip: str | None,
) -> None:
    event = record_audit(
        db,
        caller,
        action,
        "case_message",
        message_id if message_id is not None else case.id,
        patient_id=case.patient_id,
        consultation_id=case.consultation_id,
        nucleo_id=case.nucleo_id,
        detail=f"case {case.id}",
    )
    event.ip = ip
