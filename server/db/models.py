"""Core records: Núcleos, Pontos, professionals, patients, consultations, invites, audit."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.base import Base, str_enum, utcnow


class NucleoType(StrEnum):
    """Art. 454-A: the kinds of Núcleo de Telessaúde."""

    ESTADUAL_DISTRITAL = "estadual_distrital"
    MUNICIPAL = "municipal"
    INTERMUNICIPAL = "intermunicipal"
    INTERESTADUAL = "interestadual"
    TECNICO_CIENTIFICO = "tecnico_cientifico"


class Council(StrEnum):
    """Professional councils (art. 449 I). Stored apart from number and UF/region."""

    CRM = "CRM"
    COREN = "COREN"
    CRO = "CRO"
    CRP = "CRP"
    CRF = "CRF"
    CREFITO = "CREFITO"
    CRN = "CRN"
    CRFA = "CRFA"
    CRESS = "CRESS"
    CREF = "CREF"
    CRBM = "CRBM"


class AccountRole(StrEnum):
    GESTOR = "gestor"
    PROFISSIONAL = "profissional"
    PACIENTE = "paciente"


class Modality(StrEnum):
    """The nine modalities of art. 448."""

    TELECONSULTORIA = "teleconsultoria"
    TELETRIAGEM = "teletriagem"
    TELECONSULTA = "teleconsulta"
    TELEDIAGNOSTICO = "telediagnostico"
    TELEMONITORAMENTO = "telemonitoramento"
    TELEINTERCONSULTA = "teleinterconsulta"
    TELEDUCACAO = "teleducacao"
    TELERREGULACAO = "telerregulacao"
    TELEORIENTACAO = "teleorientacao"


class ConsultationMode(StrEnum):
    SYNC = "sync"
    ASYNC = "async"


class ConsultationStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"
    CANCELLED = "cancelled"


class ParticipantRole(StrEnum):
    SOLICITANTE = "solicitante"
    TELECONSULTOR = "teleconsultor"
    REGULADOR = "regulador"
    PACIENTE = "paciente"
    CONVIDADO = "convidado"
    INTERPRETE = "interprete"


PROFESSIONAL_ROLES = frozenset(
    {ParticipantRole.SOLICITANTE, ParticipantRole.TELECONSULTOR, ParticipantRole.REGULADOR}
)
INVITE_ROLES = frozenset(
    {ParticipantRole.PACIENTE, ParticipantRole.CONVIDADO, ParticipantRole.INTERPRETE}
)


class InvalidTransitionError(Exception):
    """A status change that the lifecycle does not allow from the current status."""


ponto_nucleo = Table(
    "ponto_nucleo",
    Base.metadata,
    Column("ponto_id", ForeignKey("ponto.id", ondelete="CASCADE"), primary_key=True),
    Column("nucleo_id", ForeignKey("nucleo.id", ondelete="CASCADE"), primary_key=True),
)


class Nucleo(Base):
    """A Núcleo de Telessaúde (art. 454 I), registered in CNES with service 160."""

    __tablename__ = "nucleo"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[NucleoType] = mapped_column(str_enum(NucleoType))
    cnes: Mapped[str] = mapped_column(String(7), unique=True)
    uf: Mapped[str] = mapped_column(String(2))
    municipality: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    pontos: Mapped[list[Ponto]] = relationship(
        secondary=ponto_nucleo, back_populates="nucleos", lazy="raise"
    )


class Ponto(Base):
    """A Ponto de Telessaúde (art. 454 II): an establishment linked to Núcleos."""

    __tablename__ = "ponto"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    cnes: Mapped[str] = mapped_column(String(7), unique=True)
    establishment_type: Mapped[str] = mapped_column(String(2))
    "CNES establishment type code, e.g. 02 UBS, 05 Hospital Geral, 70 CAPS."
    uf: Mapped[str] = mapped_column(String(2))
    municipality: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    nucleos: Mapped[list[Nucleo]] = relationship(
        secondary=ponto_nucleo, back_populates="pontos", lazy="raise"
    )


class Professional(Base):
    """A person who logs in: a health professional, or a gestor (who may have no council)."""

    __tablename__ = "professional"
    __table_args__ = (
        UniqueConstraint("council", "council_uf", "council_number", name="council_registration"),
        CheckConstraint(
            "role = 'gestor' OR (council IS NOT NULL AND council_number IS NOT NULL "
            "AND council_uf IS NOT NULL AND cbo IS NOT NULL)",
            name="clinician_has_council",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    social_name: Mapped[str | None] = mapped_column(String(200))
    cpf: Mapped[str] = mapped_column(String(11), unique=True)
    cns: Mapped[str | None] = mapped_column(String(15), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[AccountRole] = mapped_column(str_enum(AccountRole))
    council: Mapped[Council | None] = mapped_column(str_enum(Council, 16))
    council_number: Mapped[str | None] = mapped_column(String(20))
    council_uf: Mapped[str | None] = mapped_column(String(2))
    "UF of the registration, or a region code for councils organised by region (CREFITO-4)."
    category: Mapped[str | None] = mapped_column(String(80))
    "Professional category as the council names it: médico, enfermeiro, psicólogo…"
    cbo: Mapped[str | None] = mapped_column(String(6))
    rqe: Mapped[str | None] = mapped_column(String(20))
    specialties: Mapped[str | None] = mapped_column(String(400))
    "Comma-separated specialties (RQE-registered or not)."
    nucleo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("nucleo.id"))
    ponto_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ponto.id"))
    is_regulador: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def council_label(self) -> str:
        """E.g. ``CRM-MG 12345``: how the number is printed on records and documents."""
        if self.council is None:
            return ""
        return f"{self.council.value}-{self.council_uf} {self.council_number}"


class Patient(Base):
    """A patient, identified by CPF and/or CNS (Lei 14.534/2023: CPF is the primary one)."""

    __tablename__ = "patient"
    __table_args__ = (CheckConstraint("cpf IS NOT NULL OR cns IS NOT NULL", name="has_identifier"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    social_name: Mapped[str | None] = mapped_column(String(200))
    cpf: Mapped[str | None] = mapped_column(String(11), unique=True)
    cns: Mapped[str | None] = mapped_column(String(15), unique=True)
    birth_date: Mapped[date]
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    municipality: Mapped[str | None] = mapped_column(String(120))
    uf: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consultation(Base):
    """A booked or running telehealth contact of any modality."""

    __tablename__ = "consultation"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    modality: Mapped[Modality] = mapped_column(str_enum(Modality))
    mode: Mapped[ConsultationMode] = mapped_column(str_enum(ConsultationMode, 8))
    status: Mapped[ConsultationStatus] = mapped_column(
        str_enum(ConsultationStatus, 16), default=ConsultationStatus.SCHEDULED
    )
    scheduled_for: Mapped[datetime]
    expected_duration_min: Mapped[int] = mapped_column(default=30)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    nucleo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("nucleo.id"))
    ponto_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ponto.id"))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patient.id"))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("professional.id"))
    title: Mapped[str | None] = mapped_column(String(200))
    "Administrative label shown in the agenda (no clinical content)."
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # lazy="raise": under asyncio a forgotten selectinload() fails loudly instead of doing IO.
    participants: Mapped[list[ConsultationParticipant]] = relationship(
        back_populates="consultation", cascade="all, delete-orphan", lazy="raise"
    )
    invites: Mapped[list[Invite]] = relationship(
        back_populates="consultation", cascade="all, delete-orphan", lazy="raise"
    )

    def start(self, now: datetime) -> None:
        if self.status is ConsultationStatus.IN_PROGRESS:
            return
        if self.status is not ConsultationStatus.SCHEDULED:
            raise InvalidTransitionError(f"cannot start a {self.status} consultation")
        self.status = ConsultationStatus.IN_PROGRESS
        self.started_at = now

    def end(self, now: datetime) -> None:
        if self.status is not ConsultationStatus.IN_PROGRESS:
            raise InvalidTransitionError(f"cannot end a {self.status} consultation")
        self.status = ConsultationStatus.ENDED
        self.ended_at = now

    def cancel(self, reason: str) -> None:
        if self.status is not ConsultationStatus.SCHEDULED:
            raise InvalidTransitionError(f"cannot cancel a {self.status} consultation")
        self.status = ConsultationStatus.CANCELLED
        self.cancel_reason = reason


class ConsultationParticipant(Base):
    """Someone taking part in a consultation, in a role: a professional, the patient or a guest."""

    __tablename__ = "consultation_participant"
    __table_args__ = (
        CheckConstraint(
            "NOT (professional_id IS NOT NULL AND patient_id IS NOT NULL)",
            name="one_identity",
        ),
        Index("ix_participant_professional", "professional_id"),
        Index("ix_participant_patient", "patient_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    consultation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultation.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[ParticipantRole] = mapped_column(str_enum(ParticipantRole, 16))
    professional_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("professional.id"))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patient.id"))
    display_name: Mapped[str] = mapped_column(String(200))
    removed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    consultation: Mapped[Consultation] = relationship(back_populates="participants", lazy="raise")
    attendances: Mapped[list[Attendance]] = relationship(
        back_populates="participant", cascade="all, delete-orphan", lazy="raise"
    )


class Attendance(Base):
    """One stay of a participant in the video room: when they joined and when they left."""

    __tablename__ = "attendance"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultation_participant.id", ondelete="CASCADE"), index=True
    )
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    leave_reason: Mapped[str | None] = mapped_column(String(40))

    participant: Mapped[ConsultationParticipant] = relationship(
        back_populates="attendances", lazy="raise"
    )


class Invite(Base):
    """A link that admits one participant (patient or guest) to one consultation.

    Only the token's SHA-256 is stored: a leaked database does not leak working links.
    """

    __tablename__ = "invite"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    consultation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultation.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultation_participant.id"))
    role: Mapped[ParticipantRole] = mapped_column(str_enum(ParticipantRole, 16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("professional.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    consultation: Mapped[Consultation] = relationship(back_populates="invites", lazy="raise")

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class RefreshToken(Base):
    """A refresh token's id, so that refresh tokens rotate and can be revoked."""

    __tablename__ = "refresh_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    professional_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("professional.id"), index=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Who did what to which record, when and from where. Never holds clinical content."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_patient_at", "patient_id", "at"),
        Index("ix_audit_nucleo_at", "nucleo_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    "professional, patient, guest or system."
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    "read, create, update, delete, export, sign, login, login_failed, join, leave…"
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patient.id"))
    consultation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consultation.id"))
    nucleo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("nucleo.id"))
    ip: Mapped[str | None] = mapped_column(String(45))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    detail: Mapped[str | None] = mapped_column(String(400))
    "A short non-clinical note (e.g. the endpoint, or why access was refused)."
