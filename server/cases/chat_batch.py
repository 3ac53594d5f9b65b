"""The group commit's flush for case messages: one round trip per batch on PostgreSQL.

``send_many`` takes five round trips per batch (BEGIN, SELECT the cases, INSERT, COMMIT, and
the pool's pre-ping); under load each waits for a turn of a busy event loop, and the batch's
transaction time is most of a message's latency. Here, on PostgreSQL, a batch is ONE statement
run on its own (autocommit: it commits when it returns), and the cases' facts come from a
cache:

- each send is decided in Python with the same rules (``chat.decide``) on the facts of its
  case (status, Núcleo, solicitante, specialist, patient, consultation) as last read;
- the statement inserts a message (and its audit event) only if its case's row, in the
  statement's own snapshot, still has exactly those facts: a decision is never applied to a
  case that changed since it was read, which is what reading the case in the same transaction
  guaranteed;
- a send whose case changed (or that was refused on cached facts) is decided again on facts
  read afresh, in the same flush; so a refusal is always based on the case as it is now.

Messages, audit events and the check are one statement, so it is all or nothing; a retry (same
client id) is found by the unique constraint and read back. Ids are assigned in the order of
the batch, and batches run one at a time, so ids still follow the order of commits. On other
databases (SQLite in tests and small installs) the flush is ``chat.send_many`` in one
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server import chat as chat_store
from server.cases import chat as case_chat
from server.cases.chat import CaseFacts, CaseSend
from server.cases.models import Case
from server.cases.service import CaseError
from server.chat import StoredMessage
from server.chat.store import AUDIT_COLUMNS, existing
from server.db.base import utcnow

MAX_CACHED_CASES = 20_000
MAX_PASSES = 3

Outcome = tuple[StoredMessage, bool] | Exception

_GUARD_COLUMNS = ("status", "nucleo_id", "solicitante_id", "specialist_id", "patient_id",
                  "consultation_id")  # fmt: skip
_MESSAGE_COLUMNS = ("channel", "author_kind", "author_id", "author_name", "client_msg_id",
                    "text", "attachment_id")  # fmt: skip
_TYPES = {
    "case_id": "uuid", "status": "varchar", "nucleo_id": "uuid", "solicitante_id": "uuid",
    "specialist_id": "uuid", "patient_id": "uuid", "consultation_id": "uuid", "text": "text",
}  # fmt: skip
_INPUT = ("case_id", *_GUARD_COLUMNS, *_MESSAGE_COLUMNS, *(f"a_{c}" for c in AUDIT_COLUMNS))


def _array_type(column: str) -> str:
    return _TYPES.get(column.removeprefix("a_"), "varchar") + "[]"


_PARAMS = ", ".join(f"${n}::{_array_type(c)}" for n, c in enumerate(_INPUT, start=1))
_NOW = f"${len(_INPUT) + 1}::timestamptz"
_SEND = f"""
WITH input AS (
    SELECT * FROM unnest({_PARAMS}) WITH ORDINALITY AS t({", ".join(_INPUT)}, ord)
), allowed AS (
    SELECT input.* FROM input JOIN {Case.__tablename__} c ON c.id = input.case_id
    WHERE {" AND ".join(f"c.{c} IS NOT DISTINCT FROM input.{c}" for c in _GUARD_COLUMNS)}
), new AS (
    INSERT INTO chat_message ({", ".join(_MESSAGE_COLUMNS)}, created_at)
    SELECT {", ".join(_MESSAGE_COLUMNS)}, {_NOW} FROM allowed ORDER BY ord
    ON CONFLICT (channel, client_msg_id) DO NOTHING
    RETURNING id, channel, client_msg_id
), audit AS (
    INSERT INTO audit_event (at, resource_id, {", ".join(AUDIT_COLUMNS)})
    SELECT {_NOW}, new.id::text, {", ".join(f"allowed.a_{c}" for c in AUDIT_COLUMNS)}
    FROM new JOIN allowed USING (channel, client_msg_id)
)
SELECT id, channel, client_msg_id FROM new
UNION ALL
SELECT NULL, channel, client_msg_id FROM allowed
"""
"""Rows with an id: new messages; rows without: every send whose case facts still held (a
held one without a new row is a retry of a stored message)."""


class CaseChatBatch:
    """The writer's flush (one per process): holds the facts of the cases it has seen."""

    def __init__(self) -> None:
        self._facts: dict[uuid.UUID, CaseFacts] = {}
        self.passes = 0
        "Statements run (more than batches when cases changed under a batch)."

    async def flush(self, db: AsyncSession, sends: Sequence[CaseSend]) -> list[Outcome]:
        connection = await db.connection()
        if connection.dialect.name != "postgresql":
            return await case_chat.send_many(db, sends)
        outcomes: list[Outcome | None] = [None] * len(sends)
        fresh: set[uuid.UUID] = set()
        pending = list(range(len(sends)))
        for _ in range(MAX_PASSES):
            pending = await self._pass(db, sends, pending, outcomes, fresh)
            if not pending:
                break
        for index in pending:
            outcomes[index] = CaseError(
                409, "case_changed", "O caso mudou durante o envio; tente enviar de novo."
            )
        return [outcome for outcome in outcomes if outcome is not None]

    async def _pass(
        self,
        db: AsyncSession,
        sends: Sequence[CaseSend],
        pending: list[int],
        outcomes: list[Outcome | None],
        fresh: set[uuid.UUID],
    ) -> list[int]:
        """Decide and write ``pending``; return the sends to decide again on fresh facts."""
        missing = {sends[i].case_id for i in pending} - self._facts.keys()
        if missing:
            if len(self._facts) > MAX_CACHED_CASES:
                self._facts.clear()
            self._facts.update(await case_chat.case_facts(db, missing))
            fresh |= missing
        attachment_case = await case_chat.attachment_cases(db, [sends[i] for i in pending])
        again: list[int] = []
        accepted: dict[tuple[str, str], Accepted] = {}
        duplicates: list[tuple[int, tuple[str, str]]] = []
        for index in pending:
            item = sends[index]
            case = self._facts.get(item.case_id)
            try:
                message = case_chat.decide(item, case, attachment_case)
            except CaseError as exc:
                if item.case_id in fresh:
                    outcomes[index] = exc
                else:  # refused on facts read by an earlier batch: read them again first
                    self._facts.pop(item.case_id, None)
                    again.append(index)
                continue
            assert case is not None
            key = (message.channel, message.client_msg_id)
            if key in accepted:  # the same message twice in one batch: the later is a retry
                duplicates.append((index, key))
            else:
                audit = case_chat.audit_entry(item.caller, case, item.ip)
                accepted[key] = (index, message, case, audit)
        if not accepted:
            return again
        now = utcnow()
        connection = await db.connection()
        rows = (await connection.exec_driver_sql(_SEND, _parameters(accepted, now))).all()
        self.passes += 1
        created = {(channel, client_id): row_id for row_id, channel, client_id in rows if row_id}
        held = {(channel, client_id) for row_id, channel, client_id in rows if row_id is None}
        stored = await existing(db, [k for k in held if k not in created])
        for key, (index, message, case, _) in accepted.items():
            if key in created:
                outcomes[index] = (_stored(created[key], message, now), True)
            elif key in stored:
                outcomes[index] = (stored[key], False)
            else:  # the case changed since its facts were read
                self._facts.pop(case.id, None)
                again.append(index)
        for index, key in duplicates:
            if key in created or key in stored:
                first = outcomes[accepted[key][0]]
                assert isinstance(first, tuple)
                outcomes[index] = (first[0], False)
            else:
                again.append(index)
        return again


Accepted = tuple[int, chat_store.NewMessage, CaseFacts, dict[str, Any]]
"Index in the batch, the message, its case's facts, its audit entry."


def _parameters(accepted: dict[tuple[str, str], Accepted], now: datetime) -> tuple[Any, ...]:
    """One array per input column of ``_SEND``, in the order of the batch, then the time."""
    columns: dict[str, list[Any]] = {name: [] for name in _INPUT}
    for _, message, case, audit in accepted.values():
        columns["case_id"].append(case.id)
        for name in _GUARD_COLUMNS:
            columns[name].append(getattr(case, name))
        columns["channel"].append(message.channel)
        columns["author_kind"].append(message.author.kind)
        columns["author_id"].append(message.author.id)
        columns["author_name"].append(message.author.display_name)
        columns["client_msg_id"].append(message.client_msg_id)
        columns["text"].append(message.text)
        columns["attachment_id"].append(message.attachment_id)
        for name in AUDIT_COLUMNS:
            columns[f"a_{name}"].append(audit[name])
    return (*columns.values(), now)


def _stored(row_id: int, message: chat_store.NewMessage, now: datetime) -> StoredMessage:
    author = message.author
    return StoredMessage(
        row_id,
        message.channel,
        author.kind,
        author.id,
        author.display_name,
        message.client_msg_id,
        message.text,
        message.attachment_id,
        now,
    )
