"""Chat tables: messages in a channel, and how far each reader has read it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, utcnow


class ChatMessage(Base):
    """One message in a channel. Ids only grow, so "everything after id N" is a catch-up."""

    __tablename__ = "chat_message"
    __table_args__ = (
        # A retried send carries the same client id: the constraint makes it one row.
        UniqueConstraint("channel", "client_msg_id", name="uq_chat_message_channel_client_msg"),
        Index("ix_chat_message_channel_id", "channel", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(80))
    "``consultation:<uuid>`` or ``case:<uuid>``."
    author_kind: Mapped[str] = mapped_column(String(16))
    "professional, patient, guest or system."
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    "The display name at the time of writing (names shown later must not change history)."
    client_msg_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    attachment_id: Mapped[str | None] = mapped_column(String(64))
    "Opaque reference to an uploaded file, owned by the attachments feature."
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatReceipt(Base):
    """The last message id a reader has seen in a channel (read receipts)."""

    __tablename__ = "chat_receipt"

    channel: Mapped[str] = mapped_column(String(80), primary_key=True)
    reader_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    reader_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_read_id: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
