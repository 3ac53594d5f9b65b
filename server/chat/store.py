"""Append to and read from a chat channel. Query functions: the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.chat.models import ChatMessage, ChatReceipt
from server.db.base import utcnow

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
    text = text.strip()
    if not text and attachment_id is None:
        raise InvalidChatMessageError("A mensagem está vazia.")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidChatMessageError(
            f"A mensagem é longa demais (máximo de {MAX_TEXT_CHARS} caracteres)."
        )
    if not client_msg_id or len(client_msg_id) > MAX_CLIENT_MSG_ID_CHARS:
        raise InvalidChatMessageError("Identificador da mensagem inválido.")
    statement = (
        _insert(db, ChatMessage)
        .values(
            channel=channel,
            author_kind=author.kind,
            author_id=author.id,
            author_name=author.display_name,
            client_msg_id=client_msg_id,
            text=text,
            attachment_id=attachment_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["channel", "client_msg_id"])
        .returning(ChatMessage.id)
    )
    inserted_id = (await db.execute(statement)).scalar_one_or_none()
    message = (
        await db.execute(
            select(ChatMessage)
            .where(ChatMessage.channel == channel, ChatMessage.client_msg_id == client_msg_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return message, inserted_id is not None


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
