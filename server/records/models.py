"""Prontuário tables: consent terms, consent decisions and the append-only record entries."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, str_enum, utcnow
from server.db.models import Modality


class ConsentChannel(StrEnum):
    """How the patient's decision reached the record (art. 449 IV, art. 450 §2)."""

    BROWSER = "browser"
    VERBAL_TRANSCRIBED = "verbal_transcribed"
    LEGAL_REPRESENTATIVE = "legal_representative"


class ConsentDecision(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    REVOKED = "revoked"


class EntryKind(StrEnum):
    CONSENT = "consent"
    SESSION_SUMMARY = "session_summary"
    CLINICAL_NOTE = "clinical_note"
    RECOMMENDATION = "recommendation"
    DOCUMENT = "document"
    CORRECTION = "correction"
    CHAT_TRANSCRIPT = "chat_transcript"


class ConsentTerm(Base):
    """One version of the TCLE text for one modality; its hash is what a consent points at."""

    __tablename__ = "consent_term"
    __table_args__ = (UniqueConstraint("modality", "version", name="modality_version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    modality: Mapped[Modality] = mapped_column(str_enum(Modality))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(Base):
    """One decision of a patient about one consultation. Rows are never changed: a revocation
    is a new row, and the latest row is the patient's current decision."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_consultation_patient", "consultation_id", "patient_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultation.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"))
    term_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consent_term.id"))
    term_version: Mapped[int]
    term_sha256: Mapped[str] = mapped_column(String(64))
    channel: Mapped[ConsentChannel] = mapped_column(str_enum(ConsentChannel, 24))
    decision: Mapped[ConsentDecision] = mapped_column(str_enum(ConsentDecision, 16))
    representative_name: Mapped[str | None] = mapped_column(String(200))
    representative_relationship: Mapped[str | None] = mapped_column(String(80))
    registered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("professional.id"))
    "The professional who registered it (art. 450 §2); None when the patient clicked it."
    registered_by_council: Mapped[str | None] = mapped_column(String(40))
    "Council label at the time, e.g. CRM-MG 12345: a later change of number must not rewrite it."
    participant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consultation_participant.id")
    )
    "The patient's participant row when the decision came from the browser."
    entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("record_entry.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordEntry(Base):
    """One append-only prontuário entry, chained per patient by SHA-256.

    ``hash`` covers the canonical JSON of every other column plus ``prev_hash``; ``seq`` is
    unique per patient, so two concurrent appends cannot fork the chain: one of them fails.
    """

    __tablename__ = "record_entry"
    __table_args__ = (
        UniqueConstraint("patient_id", "seq", name="patient_seq"),
        Index("ix_record_entry_consultation", "consultation_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"))
    seq: Mapped[int]
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind, 24))
    consultation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consultation.id"))
    payload: Mapped[str] = mapped_column(Text)
    "Canonical JSON text: stored as text so the bytes hashed are the bytes kept."
    author_kind: Mapped[str] = mapped_column(String(16))
    "professional, patient or system."
    author_id: Mapped[str | None] = mapped_column(String(64))
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("record_entry.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
