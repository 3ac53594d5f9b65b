"""Signed documents: the PDF bytes as signed, their hash, and the record entry they are."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, str_enum, utcnow
from server.records.chain import guard_append_only


class DocumentKind(StrEnum):
    ATESTADO = "atestado"
    RECEITA = "receita"


class SignedDocument(Base):
    """A signed PDF. Kept in the database (tens of kB each) so that it commits or rolls back
    with its record entry: a document never exists without its entry, nor the reverse."""

    __tablename__ = "signed_document"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind, 16))
    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultation.id"), index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("professional.id"))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    signer_subject: Mapped[str] = mapped_column(String(400))
    development_signature: Mapped[bool]
    "Signed with the generated development chain (not ICP-Brasil)."
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("record_entry.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


guard_append_only(SignedDocument)
