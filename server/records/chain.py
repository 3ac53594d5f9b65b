"""The per-patient hash chain: append an entry, verify the chain, refuse edits.

Lei 13.787/2018 asks for integrity and authenticity of the record. Every entry's hash covers
its canonical JSON and the previous entry's hash, so changing, removing or reordering any
stored entry breaks the chain at that entry, and :func:`verify_chain` names it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DDL, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from server.db.base import utcnow
from server.db.models import Patient
from server.records.models import Consent, ConsentTerm, EntryKind, RecordEntry

GENESIS_HASH = "0" * 64
HASH_FORMAT_VERSION = 1


class AppendOnlyError(RuntimeError):
    """Code tried to change or delete a prontuário row; corrections are new entries."""


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: one byte string per value, so hashes repeat.

    Payloads hold strings, integers, booleans, null, lists and objects only (no floats),
    which keeps this equal to RFC 8785 for everything we store.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: RecordEntry) -> str:
    material = {
        "v": HASH_FORMAT_VERSION,
        "id": str(entry.id),
        "patient_id": str(entry.patient_id),
        "seq": entry.seq,
        "kind": EntryKind(entry.kind).value,
        "consultation_id": str(entry.consultation_id) if entry.consultation_id else None,
        "payload": entry.payload,
        "author_kind": entry.author_kind,
        "author_id": entry.author_id,
        "corrects_id": str(entry.corrects_id) if entry.corrects_id else None,
        "created_at": entry.created_at.isoformat(timespec="microseconds"),
        "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()


async def append_entry(
    db: AsyncSession,
    *,
    patient_id: uuid.UUID,
    kind: EntryKind,
    payload: dict[str, Any],
    author_kind: str,
    author_id: str | None,
    consultation_id: uuid.UUID | None = None,
    corrects_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> RecordEntry:
    """Add the next entry of ``patient_id``'s chain to ``db`` (the caller commits)."""
    # Serialise appends per patient on PostgreSQL (NO KEY UPDATE so that inserts referencing
    # the patient elsewhere are not blocked); SQLite serialises writers on its own. If two
    # appends still race, the (patient_id, seq) unique constraint makes one of them fail.
    await db.execute(
        select(Patient.id).where(Patient.id == patient_id).with_for_update(key_share=True)
    )
    last = (
        await db.execute(
            select(RecordEntry.seq, RecordEntry.hash)
            .where(RecordEntry.patient_id == patient_id)
            .order_by(RecordEntry.seq.desc())
            .limit(1)
        )
    ).first()
    entry = RecordEntry(
        id=uuid.uuid4(),
        patient_id=patient_id,
        seq=(last.seq + 1) if last else 1,
        kind=kind,
        consultation_id=consultation_id,
        payload=canonical_json(payload),
        author_kind=author_kind,
        author_id=author_id,
        corrects_id=corrects_id,
        created_at=now or utcnow(),
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    entry.hash = entry_hash(entry)
    db.add(entry)
    await db.flush()
    return entry


@dataclass(frozen=True)
class BrokenLink:
    entry_id: uuid.UUID
    seq: int
    reason: str
    "hash_mismatch (the entry was changed), prev_hash_mismatch or seq_gap (one was removed)."


@dataclass(frozen=True)
class ChainReport:
    patient_id: uuid.UUID
    entries_checked: int
    head_hash: str
    first_broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.first_broken is None


async def verify_chain(db: AsyncSession, patient_id: uuid.UUID) -> ChainReport:
    entries = (
        await db.scalars(
            select(RecordEntry)
            .where(RecordEntry.patient_id == patient_id)
            .order_by(RecordEntry.seq)
            .execution_options(populate_existing=True)
        )
    ).all()
    previous = GENESIS_HASH
    for position, entry in enumerate(entries, start=1):
        broken: str | None = None
        if entry.seq != position:
            broken = "seq_gap"
        elif entry.prev_hash != previous:
            broken = "prev_hash_mismatch"
        elif entry_hash(entry) != entry.hash:
            broken = "hash_mismatch"
        if broken:
            return ChainReport(
                patient_id, position, previous, BrokenLink(entry.id, entry.seq, broken)
            )
        previous = entry.hash
    return ChainReport(patient_id, len(entries), previous, None)


async def patients_with_entries(db: AsyncSession) -> list[uuid.UUID]:
    return list((await db.scalars(select(RecordEntry.patient_id).distinct())).all())


# -- append-only, enforced twice: in the ORM for our own code, in the database for everyone --

_APPEND_ONLY = (RecordEntry, Consent, ConsentTerm)


def guard_append_only(*models: type[Any]) -> None:
    """Refuse updates and deletes of ``models``: in the ORM (flushes and bulk statements
    alike) and, through triggers created with the table, in the database."""
    for model in models:
        event.listen(model, "before_update", _refuse)
        event.listen(model, "before_delete", _refuse)
        for dialect in ("sqlite", "postgresql"):
            for statement in append_only_ddl(model.__tablename__, dialect):
                event.listen(model.__table__, "after_create", _ddl(statement, dialect))
    guarded.update(models)


guarded: set[type[Any]] = set()


def _refuse(mapper: Any, connection: Any, target: Any) -> None:
    raise AppendOnlyError(f"{type(target).__name__} rows are append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete) and mapper is not None and mapper.class_ in guarded:
        raise AppendOnlyError(f"{mapper.class_.__name__} rows are append-only")


# Database triggers, so that a stray UPDATE in a psql/sqlite3 shell is refused too. The
# tamper-evidence above does not depend on them: they only make tampering need DDL rights.
# The Alembic migration must run the same statements (``append_only_ddl``, one op.execute each).
APPEND_ONLY_TABLES = ("consent_term", "consent", "record_entry", "signed_document")

_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION refuse_change_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $fn$ BEGIN "
    "RAISE EXCEPTION 'table %% is append-only', TG_TABLE_NAME; END $fn$"
)


def append_only_ddl(table: str, dialect: str) -> list[str]:
    """The trigger DDL for one table. ``%%`` is SQLAlchemy DDL's escape for a literal ``%``."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for op in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            _PG_FUNCTION,
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change_append_only()",
        ]
    return []


def _ddl(statement: str, dialect: str) -> Any:
    return DDL(statement).execute_if(dialect=dialect)  # type: ignore[no-untyped-call]


guard_append_only(*_APPEND_ONLY)
