"""Append to and read from a chat channel. Query functions: the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, func, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.chat.models import ChatMessage, ChatReceipt
from server.db.base import utcnow
from server.db.models import AuditEvent

MAX_TEXT_CHARS = 4000
MAX_CLIENT_MSG_ID_CHARS = 64
DEFAULT_HISTORY_LIMIT = 200
MAX_HISTORY_LIMIT = 500


class InvalidChatMessageError(ValueError):
    """The message cannot be stored as given; the message is pt-BR, fit to show a person."""

    code = "invalid_chat_message"


@dataclass(frozen=True)
class ChatAuthor:
    """Who writes or reads: kind (professional, patient, guest, system), id and display name."""

    kind: str
    id: str
    display_name: str


def consultation_channel(consultation_id: uuid.UUID) -> str:
    return f"consultation:{consultation_id}"


def case_channel(case_id: uuid.UUID) -> str:
    return f"case:{case_id}"


def _insert(db: AsyncSession, table: Any) -> Any:
    # ON CONFLICT is dialect-specific in SQLAlchemy; both backends we run on support it.
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"chat store does not support the {dialect} dialect")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A stored message as the write path returns it: the columns of ``ChatMessage``.

    A plain value, not an ORM instance: building a mapped object costs more than the row's
    share of the multi-row INSERT, and nothing on the send path needs the session to track it.
    """

    id: int
    channel: str
    author_kind: str
    author_id: str
    author_name: str
    client_msg_id: str
    text: str
    attachment_id: str | None
    created_at: datetime


_COLUMNS = (
    ChatMessage.id,
    ChatMessage.channel,
    ChatMessage.author_kind,
    ChatMessage.author_id,
    ChatMessage.author_name,
    ChatMessage.client_msg_id,
    ChatMessage.text,
    ChatMessage.attachment_id,
    ChatMessage.created_at,
)


@dataclass(frozen=True)
class NewMessage:
    """A message to store: where, by whom, the sender's own id, text and optional attachment."""

    channel: str
    author: ChatAuthor
    client_msg_id: str
    text: str
    attachment_id: str | None = None


def checked(message: NewMessage) -> NewMessage:
    """The message as it will be stored (text trimmed), or InvalidChatMessageError in pt-BR."""
    text = message.text.strip()
    if not text and message.attachment_id is None:
        raise InvalidChatMessageError("A mensagem está vazia.")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidChatMessageError(
            f"A mensagem é longa demais (máximo de {MAX_TEXT_CHARS} caracteres)."
        )
    if not message.client_msg_id or len(message.client_msg_id) > MAX_CLIENT_MSG_ID_CHARS:
        raise InvalidChatMessageError("Identificador da mensagem inválido.")
    return message if text == message.text else replace(message, text=text)


async def append(
    db: AsyncSession,
    channel: str,
    author: ChatAuthor,
    client_msg_id: str,
    text: str,
    attachment_id: str | None = None,
) -> tuple[ChatMessage, bool]:
    """Store a message once per (channel, client_msg_id); return it and whether it is new.

    A retry with the same client id returns the row stored the first time, unchanged, even if
    the retry's text differs: the first write wins, so a message never changes after it was
    acknowledged. Concurrent retries are safe (the unique constraint decides, not a read).
    """
    ((stored, created),) = await append_many(
        db, [NewMessage(channel, author, client_msg_id, text, attachment_id)]
    )
    # The one-message path (in-call chat) keeps its ORM result type; its cost is not at stake.
    return ChatMessage(
        id=stored.id,
        channel=stored.channel,
        author_kind=stored.author_kind,
        author_id=stored.author_id,
        author_name=stored.author_name,
        client_msg_id=stored.client_msg_id,
        text=stored.text,
        attachment_id=stored.attachment_id,
        created_at=stored.created_at,
    ), created


AUDIT_COLUMNS = (
    "actor_kind",
    "actor_id",
    "action",
    "resource_type",
    "patient_id",
    "consultation_id",
    "nucleo_id",
    "ip",
    "outcome",
    "detail",
)
"""What a caller gives for the audit event of each new message; ``at`` is the message's time
and ``resource_id`` its id, filled in by the store."""

_AUDIT_TABLE = cast(Table, AuditEvent.__table__)

_MESSAGE_COLUMNS = (
    "channel",
    "author_kind",
    "author_id",
    "author_name",
    "client_msg_id",
    "text",
    "attachment_id",
)

# PostgreSQL: the batch's messages and their audit events in ONE statement whose text does not
# depend on the batch size (one array per column, unnest'ed), so asyncpg prepares it once per
# connection. SQLAlchemy's multi-row VALUES renders a new statement for every batch size (a
# new server-side prepare each time), and a second statement for the audit rows is a second
# round trip. Ids are assigned in the order of the arrays.
_PG_APPEND = f"""
WITH input AS (
    SELECT * FROM unnest(
        $1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[],
        $6::text[], $7::varchar[],
        $8::varchar[], $9::varchar[], $10::varchar[], $11::varchar[], $12::uuid[],
        $13::uuid[], $14::uuid[], $15::varchar[], $16::varchar[], $17::varchar[]
    ) AS t({", ".join(_MESSAGE_COLUMNS)}, {", ".join("a_" + c for c in AUDIT_COLUMNS)})
), new AS (
    INSERT INTO chat_message ({", ".join(_MESSAGE_COLUMNS)}, created_at)
    SELECT {", ".join(_MESSAGE_COLUMNS)}, $18::timestamptz FROM input
    ON CONFLICT (channel, client_msg_id) DO NOTHING
    RETURNING id, channel, client_msg_id
), audit AS (
    INSERT INTO audit_event (at, resource_id, {", ".join(AUDIT_COLUMNS)})
    SELECT $18::timestamptz, new.id::text, {", ".join("input.a_" + c for c in AUDIT_COLUMNS)}
    FROM new JOIN input USING (channel, client_msg_id)
    WHERE input.a_action IS NOT NULL
)
SELECT id, channel, client_msg_id FROM new
"""


async def append_many(
    db: AsyncSession,
    messages: Sequence[NewMessage],
    audits: Sequence[dict[str, Any]] | None = None,
) -> list[tuple[StoredMessage, bool]]:
    """``append`` for many messages in one statement; results in the order given.

    ``audits`` (one per message, keys ``AUDIT_COLUMNS``) are written as audit events of the
    messages that are new, in the same transaction (a retry writes no second event). New rows
    come back with their ids, so they are not read again; only retries (rows that already
    existed) are selected. The same (channel, client id) twice in one call is one row: the
    first is new, the later ones are its retries. Raises InvalidChatMessageError if any message
    is invalid (check first with ``checked`` to refuse one message without the others).
    """
    rows = [checked(m) for m in messages]
    if audits is not None and len(audits) != len(rows):
        raise ValueError("one audit entry per message")
    now = utcnow()
    first: dict[tuple[str, str], int] = {}
    for index, m in enumerate(rows):
        first.setdefault((m.channel, m.client_msg_id), index)
    unique = list(first.values())
    connection = await db.connection()
    if connection.dialect.name == "postgresql":
        columns: list[list[Any]] = [
            [rows[i].channel for i in unique],
            [rows[i].author.kind for i in unique],
            [rows[i].author.id for i in unique],
            [rows[i].author.display_name for i in unique],
            [rows[i].client_msg_id for i in unique],
            [rows[i].text for i in unique],
            [rows[i].attachment_id for i in unique],
        ]
        for column in AUDIT_COLUMNS:
            columns.append([None if audits is None else audits[i][column] for i in unique])
        result = await connection.exec_driver_sql(_PG_APPEND, (*columns, now))
        inserted = result.all()
    else:
        # Core on the table, not the ORM bulk path: the ORM would add nothing but CPU here.
        statement = (
            _insert(db, ChatMessage.__table__)
            .on_conflict_do_nothing(index_elements=["channel", "client_msg_id"])
            .returning(ChatMessage.id, ChatMessage.channel, ChatMessage.client_msg_id)
        )
        parameters = [
            {
                "channel": rows[i].channel,
                "author_kind": rows[i].author.kind,
                "author_id": rows[i].author.id,
                "author_name": rows[i].author.display_name,
                "client_msg_id": rows[i].client_msg_id,
                "text": rows[i].text,
                "attachment_id": rows[i].attachment_id,
                "created_at": now,
            }
            for i in unique
        ]
        inserted = (await connection.execute(statement, parameters)).all()
        if audits is not None and inserted:
            events = [
                {
                    **audits[first[(channel, client_msg_id)]],
                    "at": now,
                    "resource_id": str(row_id),
                }
                for row_id, channel, client_msg_id in inserted
            ]
            await connection.execute(insert(_AUDIT_TABLE), events)
    stored: dict[tuple[str, str], StoredMessage] = {}
    created: set[tuple[str, str]] = set()
    for row_id, channel, client_msg_id in inserted:
        m = rows[first[(channel, client_msg_id)]]
        created.add((channel, client_msg_id))
        stored[(channel, client_msg_id)] = StoredMessage(
            row_id,
            channel,
            m.author.kind,
            m.author.id,
            m.author.display_name,
            client_msg_id,
            m.text,
            m.attachment_id,
            now,
        )
    retried = [key for key in first if key not in created]
    if retried:
        stored.update(await existing(db, retried))
    results: list[tuple[StoredMessage, bool]] = []
    for m in rows:
        key = (m.channel, m.client_msg_id)
        # Only the first occurrence of a key in this call is "new"; the rest are its retries.
        is_new = key in created
        created.discard(key)
        results.append((stored[key], is_new))
    return results


async def existing(
    db: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], StoredMessage]:
    """The stored messages of these (channel, client id) pairs (a retry's first write)."""
    if not keys:
        return {}
    connection = await db.connection()
    rows = await connection.execute(
        select(*_COLUMNS).where(tuple_(ChatMessage.channel, ChatMessage.client_msg_id).in_(keys))
    )
    found = (StoredMessage(*row) for row in rows.all())
    return {(m.channel, m.client_msg_id): m for m in found}


async def history(
    db: AsyncSession,
    channel: str,
    after_id: int | None = None,
    limit: int = DEFAULT_HISTORY_LIMIT,
) -> Sequence[ChatMessage]:
    """Messages of `channel` with id > `after_id` (all when None), oldest first, at most `limit`.

    A client that gets exactly `limit` messages asks again after the last one it received.
    """
    limit = max(1, min(limit, MAX_HISTORY_LIMIT))
    query = select(ChatMessage).where(ChatMessage.channel == channel)
    if after_id is not None:
        query = query.where(ChatMessage.id > after_id)
    rows = await db.execute(query.order_by(ChatMessage.id).limit(limit))
    return rows.scalars().all()


async def mark_read(db: AsyncSession, channel: str, reader: ChatAuthor, last_id: int) -> int:
    """Record that `reader` has read `channel` up to `last_id`; return the stored position.

    The position only moves forward (a late, out-of-order receipt never un-reads) and never
    past the newest message of the channel.
    """
    newest = (
        await db.execute(select(func.max(ChatMessage.id)).where(ChatMessage.channel == channel))
    ).scalar_one_or_none() or 0
    position = max(0, min(last_id, newest))
    insert = _insert(db, ChatReceipt).values(
        channel=channel,
        reader_kind=reader.kind,
        reader_id=reader.id,
        last_read_id=position,
        updated_at=utcnow(),
    )
    statement = insert.on_conflict_do_update(
        index_elements=["channel", "reader_kind", "reader_id"],
        set_={
            "last_read_id": case(
                (
                    insert.excluded.last_read_id > ChatReceipt.last_read_id,
                    insert.excluded.last_read_id,
                ),
                else_=ChatReceipt.last_read_id,
            ),
            "updated_at": insert.excluded.updated_at,
        },
    ).returning(ChatReceipt.last_read_id)
    return int((await db.execute(statement)).scalar_one())


async def last_read(db: AsyncSession, channel: str, reader: ChatAuthor) -> int:
    """How far `reader` has read `channel` (0: nothing yet)."""
    found = await db.get(ChatReceipt, (channel, reader.kind, reader.id))
    return 0 if found is None else found.last_read_id


async def receipts(db: AsyncSession, channel: str) -> Sequence[ChatReceipt]:
    """Every reader's position in `channel`, e.g. to show "lida" next to a message."""
    rows = await db.execute(
        select(ChatReceipt)
        .where(ChatReceipt.channel == channel)
        .order_by(ChatReceipt.reader_kind, ChatReceipt.reader_id)
    )
    return rows.scalars().all()
