"""Asynchronous teleconsultoria (art. 448 I b, §3): cases, their transitions, queue deadlines."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, str_enum, utcnow


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    "Received by the Núcleo; waiting for a regulador."
    IN_REGULATION = "in_regulation"
    "A regulador has taken it and is triaging."
    ASSIGNED = "assigned"
    "With a specialist (teleconsultor), waiting for the answer."
    MORE_INFO_REQUESTED = "more_info_requested"
    "Waiting for the solicitante to complement the question."
    ANSWERED = "answered"
    "The specialist answered; the solicitante may follow up or close."
    CLOSED = "closed"
    RETURNED = "returned"
    "Sent back by regulation (e.g. not a case for teleconsultoria, or for another Núcleo)."
    REFUSED = "refused"


FINAL_STATUSES = frozenset({CaseStatus.CLOSED, CaseStatus.RETURNED, CaseStatus.REFUSED})


class PatientSex(StrEnum):
    FEMININO = "F"
    MASCULINO = "M"
    INTERSEXO = "I"


class Case(Base):
    """One teleconsultoria assíncrona, from the solicitante's question to closing and rating.

    Each case owns an async ``Consultation`` (modality teleconsultoria) so that the record entry,
    participants and production reports treat sync and async contacts alike.
    """

    __tablename__ = "teleconsult_case"
    __table_args__ = (
        CheckConstraint(
            "patient_id IS NULL OR (patient_age_years IS NULL AND patient_sex IS NULL)",
            name="identified_or_deidentified",
        ),
        CheckConstraint(
            "satisfaction IS NULL OR (satisfaction BETWEEN 1 AND 5)", name="satisfaction_range"
        ),
        Index("ix_case_nucleo_status_due", "nucleo_id", "status", "answer_due_at"),
        Index("ix_case_solicitante", "solicitante_id"),
        Index("ix_case_specialist", "specialist_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultation.id"), unique=True)
    nucleo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("nucleo.id"))
    ponto_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ponto.id"))
    solicitante_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("professional.id"))
    regulador_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("professional.id"))
    specialist_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("professional.id"))
    specialty: Mapped[str] = mapped_column(String(80))
    question: Mapped[str] = mapped_column(Text)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patient.id"))
    "Identified case: the patient's record receives the entry when the case closes."
    patient_age_years: Mapped[int | None]
    "De-identified case: age and sex only."
    patient_sex: Mapped[PatientSex | None] = mapped_column(str_enum(PatientSex, 1))
    status: Mapped[CaseStatus] = mapped_column(
        str_enum(CaseStatus, 24), default=CaseStatus.SUBMITTED
    )
    status_before_info: Mapped[CaseStatus | None] = mapped_column(str_enum(CaseStatus, 24))
    "Where the case goes back to once the solicitante provides the information asked for."
    received_at: Mapped[datetime]
    regulation_due_at: Mapped[datetime]
    answer_due_at: Mapped[datetime]
    "Never more than 72 h after received_at (art. 448 §3)."
    regulated_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    "The first answer: what the SLA measures (follow-ups do not move it)."
    closed_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    "The specialist's latest answer."
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    "Why it was returned or refused."
    satisfaction: Mapped[int | None]
    referral_avoided: Mapped[bool | None]
    due_soon_alerted_at: Mapped[datetime | None]
    overdue_alerted_at: Mapped[datetime | None]
    "The SLA sweep alerts the regulation once per threshold, not on every pass."
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseTransition(Base):
    """Every status change of a case: from, to, who, when and why."""

    __tablename__ = "case_transition"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("teleconsult_case.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[CaseStatus | None] = mapped_column(str_enum(CaseStatus, 24))
    to_status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus, 24))
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("professional.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)


class QueueDeadline(Base):
    """A Núcleo's protocol deadlines, in calendar hours from receipt (see deadlines.py)."""

    __tablename__ = "queue_deadline"
    __table_args__ = (
        CheckConstraint("regulation_hours >= 1", name="regulation_positive"),
        CheckConstraint("specialist_hours >= 1", name="specialist_positive"),
        # The legal ceiling, enforced by the database too: no code path can store more.
        CheckConstraint("regulation_hours + specialist_hours <= 72", name="total_within_72h"),
    )

    nucleo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("nucleo.id"), primary_key=True)
    regulation_hours: Mapped[int]
    specialist_hours: Mapped[int]
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("professional.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
