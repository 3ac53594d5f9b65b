"""Attachment metadata; the bytes live outside the database, under their SHA-256."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, utcnow


class Attachment(Base):
    """One upload to one case. Identical bytes uploaded twice share one stored file."""

    __tablename__ = "case_attachment"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teleconsult_case.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    "Decided from the bytes (magic numbers), never from the name or the client's header."
    size_bytes: Mapped[int]
    filename: Mapped[str] = mapped_column(String(200))
    "The name as uploaded, sanitised, for display and the download's Content-Disposition."
    uploaded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("professional.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
