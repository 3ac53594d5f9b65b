"""A SOF: built by a specialist from an answered case, published for every professional."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, str_enum, utcnow


class SofStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Sof(Base):
    """Holds no patient identifier at all: only the source case id, kept for provenance."""

    __tablename__ = "sof"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teleconsult_case.id"), unique=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("professional.id"))
    nucleo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("nucleo.id"))
    title: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    references: Mapped[str] = mapped_column(Text)
    "One bibliographic reference per line."
    tags: Mapped[str] = mapped_column(String(400), default="")
    "Comma-separated, lower-case keywords."
    ciap2: Mapped[str] = mapped_column(String(200), default="")
    "Comma-separated CIAP-2 codes (e.g. K86, T90)."
    specialty: Mapped[str] = mapped_column(String(80))
    status: Mapped[SofStatus] = mapped_column(str_enum(SofStatus, 16), default=SofStatus.DRAFT)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
