"""The case lifecycle: submission and every transition, each recorded (who, when, why).

Functions take an open ``db`` and never commit: the handler owns the transaction, so a refused
transition leaves nothing half-written. Each transition returns the ``Notice``s to send once the
transaction has committed (never before: nobody is told about something that may roll back).

Lifecycle::

    submitted ─claim→ in_regulation ─assign→ assigned ─answer→ answered ─close→ closed
        │  └────────────assign────────────────↗  ↑ ↺ assign     │
        │                                        └──follow_up───┘
    submitted | in_regulation | assigned ─request_info→ more_info_requested ─provide_info→ (back)
    submitted | in_regulation ─return→ returned      ─refuse→ refused

Deadlines are fixed at receipt and never paused (the 72 h of art. 448 §3 count from receipt).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.tokens import Caller
from server.cases.access import CaseRole, case_roles
from server.cases.deadlines import Deadlines, answer_due, regulation_due
from server.cases.models import Case, CaseStatus, CaseTransition, PatientSex, QueueDeadline
from server.db.models import (
    AccountRole,
    Consultation,
    ConsultationMode,
    ConsultationParticipant,
    Modality,
    ParticipantRole,
    Patient,
    Professional,
    ponto_nucleo,
)

STATUS_PT = {
    CaseStatus.SUBMITTED: "enviado",
    CaseStatus.IN_REGULATION: "em regulação",
    CaseStatus.ASSIGNED: "com o especialista",
    CaseStatus.MORE_INFO_REQUESTED: "aguardando informações",
    CaseStatus.ANSWERED: "respondido",
    CaseStatus.CLOSED: "encerrado",
    CaseStatus.RETURNED: "devolvido",
    CaseStatus.REFUSED: "recusado",
}


class CaseError(Exception):
    """A refused operation: HTTP status, stable code and a pt-BR message fit to show."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def transition_not_allowed(action: str, status: CaseStatus) -> CaseError:
    return CaseError(
        409,
        "invalid_transition",
        f"Esta ação não é permitida com o caso {STATUS_PT[status]}.",
    )


@dataclass(frozen=True)
class Notice:
    """Something to tell people about a case after commit (no clinical content)."""

    event: str
    case_id: uuid.UUID
    recipients: tuple[uuid.UUID, ...]
    subject_ptbr: str
    status: CaseStatus
    email: bool = True
    "False for news the person can wait to see on screen (no e-mail for every step)."


@dataclass
class Outcome:
    case: Case
    notices: list[Notice] = field(default_factory=list)


# ------------------------------------------------------------------------- deadlines


async def deadlines_for(db: AsyncSession, nucleo_id: uuid.UUID) -> Deadlines:
    row = await db.get(QueueDeadline, nucleo_id)
    if row is None:
        return Deadlines()
    return Deadlines(row.regulation_hours, row.specialist_hours)


async def set_deadlines(
    db: AsyncSession, nucleo_id: uuid.UUID, deadlines: Deadlines, by: uuid.UUID, now: datetime
) -> QueueDeadline:
    """Store a Núcleo's deadlines; ``Deadlines`` has already refused anything over 72 h.

    Applies to cases received from now on: a case's due times were promised at receipt.
    """
    row = await db.get(QueueDeadline, nucleo_id)
    if row is None:
        row = QueueDeadline(nucleo_id=nucleo_id)
        db.add(row)
    row.regulation_hours = deadlines.regulation_hours
    row.specialist_hours = deadlines.specialist_hours
    row.updated_by_id = by
    row.updated_at = now
    await db.flush()
    return row


# ------------------------------------------------------------------------- submission


@dataclass(frozen=True)
class NewCase:
    nucleo_id: uuid.UUID
    specialty: str
    question: str
    patient_id: uuid.UUID | None = None
    patient_age_years: int | None = None
    patient_sex: PatientSex | None = None


async def reguladores_of(db: AsyncSession, nucleo_id: uuid.UUID) -> tuple[uuid.UUID, ...]:
    rows = await db.scalars(
        select(Professional.id).where(
            Professional.nucleo_id == nucleo_id,
            Professional.is_regulador.is_(True),
            Professional.active.is_(True),
        )
    )
    return tuple(rows.all())


async def submit(db: AsyncSession, caller: Caller, new: NewCase, now: datetime) -> Outcome:
    solicitante = await db.get(Professional, caller.subject_id)
    if solicitante is None or solicitante.role is not AccountRole.PROFISSIONAL:
        raise CaseError(403, "forbidden", "Somente profissionais de saúde abrem teleconsultorias.")
    if solicitante.ponto_id is None:
        raise CaseError(
            422, "no_ponto", "Seu cadastro não está vinculado a um Ponto de Telessaúde."
        )
    linked = await db.scalar(
        select(ponto_nucleo.c.nucleo_id).where(
            ponto_nucleo.c.ponto_id == solicitante.ponto_id,
            ponto_nucleo.c.nucleo_id == new.nucleo_id,
        )
    )
    if linked is None:
        raise CaseError(
            422, "nucleo_not_linked", "Seu Ponto de Telessaúde não está vinculado a este Núcleo."
        )
    if new.patient_id is not None:
        if new.patient_age_years is not None or new.patient_sex is not None:
            raise CaseError(
                422,
                "patient_ambiguous",
                "Informe o paciente cadastrado ou apenas idade e sexo, não os dois.",
            )
        if await db.get(Patient, new.patient_id) is None:
            raise CaseError(422, "patient_not_found", "Paciente não encontrado.")
    deadlines = await deadlines_for(db, new.nucleo_id)
    consultation = Consultation(
        modality=Modality.TELECONSULTORIA,
        mode=ConsultationMode.ASYNC,
        scheduled_for=now,
        nucleo_id=new.nucleo_id,
        ponto_id=solicitante.ponto_id,
        patient_id=new.patient_id,
        created_by_id=solicitante.id,
        title="Teleconsultoria assíncrona",
    )
    db.add(consultation)
    await db.flush()
    db.add(
        ConsultationParticipant(
            consultation_id=consultation.id,
            role=ParticipantRole.SOLICITANTE,
            professional_id=solicitante.id,
            display_name=solicitante.social_name or solicitante.name,
        )
    )
    case = Case(
        consultation_id=consultation.id,
        nucleo_id=new.nucleo_id,
        ponto_id=solicitante.ponto_id,
        solicitante_id=solicitante.id,
        specialty=new.specialty,
        question=new.question,
        patient_id=new.patient_id,
        patient_age_years=new.patient_age_years,
        patient_sex=new.patient_sex,
        status=CaseStatus.SUBMITTED,
        received_at=now,
        regulation_due_at=regulation_due(now, deadlines),
        answer_due_at=answer_due(now, deadlines),
    )
    db.add(case)
    await db.flush()
    _record(db, case, "submit", None, CaseStatus.SUBMITTED, caller.subject_id, now, None)
    recipients = await reguladores_of(db, case.nucleo_id)
    return Outcome(
        case, [Notice("case_submitted", case.id, recipients, "Novo caso na fila", case.status)]
    )


# ------------------------------------------------------------------------- transitions


def _record(
    db: AsyncSession,
    case: Case,
    action: str,
    from_status: CaseStatus | None,
    to_status: CaseStatus,
    actor: uuid.UUID,
    now: datetime,
    reason: str | None,
) -> None:
    db.add(
        CaseTransition(
            case_id=case.id,
            action=action,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor,
            at=now,
            reason=reason,
        )
    )


def _require(caller: Caller, case: Case, *roles: CaseRole) -> None:
    if not case_roles(caller, case) & set(roles):
        raise CaseError(403, "forbidden", "Você não pode realizar esta ação neste caso.")


def _require_status(action: str, case: Case, *allowed: CaseStatus) -> None:
    if case.status not in allowed:
        raise transition_not_allowed(action, case.status)


def _move(
    db: AsyncSession,
    case: Case,
    action: str,
    to: CaseStatus,
    caller: Caller,
    now: datetime,
    reason: str | None = None,
) -> None:
    _record(db, case, action, case.status, to, caller.subject_id, now, reason)
    case.status = to


async def _consultation(db: AsyncSession, case: Case) -> Consultation:
    consultation = await db.get(Consultation, case.consultation_id)
    if consultation is None:  # the FK makes this impossible; fail loudly if it ever happens
        raise LookupError(f"case {case.id} has no consultation")
    return consultation


async def _join(
    db: AsyncSession, case: Case, professional: Professional, role: ParticipantRole
) -> None:
    """Make the professional a participant of the case's consultation (once per role)."""
    existing = await db.scalar(
        select(ConsultationParticipant).where(
            ConsultationParticipant.consultation_id == case.consultation_id,
            ConsultationParticipant.professional_id == professional.id,
            ConsultationParticipant.role == role,
            ConsultationParticipant.removed_at.is_(None),
        )
    )
    if existing is None:
        db.add(
            ConsultationParticipant(
                consultation_id=case.consultation_id,
                role=role,
                professional_id=professional.id,
                display_name=professional.social_name or professional.name,
            )
        )


async def _leave(db: AsyncSession, case: Case, professional_id: uuid.UUID, now: datetime) -> None:
    rows = await db.scalars(
        select(ConsultationParticipant).where(
            ConsultationParticipant.consultation_id == case.consultation_id,
            ConsultationParticipant.professional_id == professional_id,
            ConsultationParticipant.role == ParticipantRole.TELECONSULTOR,
            ConsultationParticipant.removed_at.is_(None),
        )
    )
    for participant in rows.all():
        participant.removed_at = now


async def _regulador(db: AsyncSession, caller: Caller, case: Case) -> Professional:
    professional = await db.get(Professional, caller.subject_id)
    if professional is None:
        raise CaseError(403, "forbidden", "Você não pode realizar esta ação neste caso.")
    case.regulador_id = professional.id
    await _join(db, case, professional, ParticipantRole.REGULADOR)
    return professional


def _notice(
    case: Case, event: str, subject: str, *recipients: uuid.UUID | None, email: bool = True
) -> Notice:
    people = tuple(dict.fromkeys(r for r in recipients if r is not None))
    return Notice(event, case.id, people, subject, case.status, email)


async def claim(db: AsyncSession, caller: Caller, case: Case, now: datetime) -> Outcome:
    _require(caller, case, CaseRole.REGULADOR)
    _require_status("claim", case, CaseStatus.SUBMITTED)
    await _regulador(db, caller, case)
    _move(db, case, "claim", CaseStatus.IN_REGULATION, caller, now)
    return Outcome(case)


async def assign(
    db: AsyncSession, caller: Caller, case: Case, specialist_id: uuid.UUID, now: datetime
) -> Outcome:
    _require(caller, case, CaseRole.REGULADOR)
    _require_status(
        "assign", case, CaseStatus.SUBMITTED, CaseStatus.IN_REGULATION, CaseStatus.ASSIGNED
    )
    specialist = await db.get(Professional, specialist_id)
    if (
        specialist is None
        or not specialist.active
        or specialist.role is not AccountRole.PROFISSIONAL
        or specialist.nucleo_id != case.nucleo_id
    ):
        raise CaseError(
            422, "specialist_invalid", "O especialista precisa ser um profissional ativo do Núcleo."
        )
    await _regulador(db, caller, case)
    if case.specialist_id is not None and case.specialist_id != specialist.id:
        await _leave(db, case, case.specialist_id, now)
    case.specialist_id = specialist.id
    if case.regulated_at is None:
        case.regulated_at = now
    await _join(db, case, specialist, ParticipantRole.TELECONSULTOR)
    consultation = await _consultation(db, case)
    consultation.start(now)
    _move(db, case, "assign", CaseStatus.ASSIGNED, caller, now)
    return Outcome(
        case,
        [
            _notice(case, "case_assigned", "Caso atribuído a você", specialist.id),
            # the solicitante's screen follows the case live; an e-mail per step would be noise
            _notice(
                case,
                "case_forwarded",
                "Seu caso foi encaminhado a um especialista",
                case.solicitante_id,
                email=False,
            ),
        ],
    )


async def request_info(
    db: AsyncSession, caller: Caller, case: Case, reason: str, now: datetime
) -> Outcome:
    _require(caller, case, CaseRole.REGULADOR, CaseRole.SPECIALIST)
    _require_status(
        "request_info", case, CaseStatus.SUBMITTED, CaseStatus.IN_REGULATION, CaseStatus.ASSIGNED
    )
    if CaseRole.SPECIALIST not in case_roles(caller, case):
        await _regulador(db, caller, case)
    case.status_before_info = case.status
    _move(db, case, "request_info", CaseStatus.MORE_INFO_REQUESTED, caller, now, reason)
    return Outcome(
        case,
        [
            _notice(
                case, "info_requested", "Informações complementares pedidas", case.solicitante_id
            )
        ],
    )


async def provide_info(
    db: AsyncSession, caller: Caller, case: Case, text: str, now: datetime
) -> Outcome:
    _require(caller, case, CaseRole.SOLICITANTE)
    _require_status("provide_info", case, CaseStatus.MORE_INFO_REQUESTED)
    back = case.status_before_info or CaseStatus.SUBMITTED
    case.status_before_info = None
    _move(db, case, "provide_info", back, caller, now, text)
    recipients = (
        (case.specialist_id,)
        if back is CaseStatus.ASSIGNED
        else (case.regulador_id,)
        if case.regulador_id
        else await reguladores_of(db, case.nucleo_id)
    )
    return Outcome(
        case, [_notice(case, "info_provided", "Informações complementares enviadas", *recipients)]
    )


async def answer(db: AsyncSession, caller: Caller, case: Case, text: str, now: datetime) -> Outcome:
    _require(caller, case, CaseRole.SPECIALIST)
    _require_status("answer", case, CaseStatus.ASSIGNED)
    case.answer = text
    if case.answered_at is None:
        case.answered_at = now
    _move(db, case, "answer", CaseStatus.ANSWERED, caller, now)
    return Outcome(
        case, [_notice(case, "case_answered", "Seu caso foi respondido", case.solicitante_id)]
    )


async def follow_up(
    db: AsyncSession, caller: Caller, case: Case, text: str, now: datetime
) -> Outcome:
    _require(caller, case, CaseRole.SOLICITANTE)
    _require_status("follow_up", case, CaseStatus.ANSWERED)
    _move(db, case, "follow_up", CaseStatus.ASSIGNED, caller, now, text)
    return Outcome(
        case, [_notice(case, "follow_up", "Nova pergunta sobre o caso", case.specialist_id)]
    )


async def close(
    db: AsyncSession,
    caller: Caller,
    case: Case,
    satisfaction: int,
    referral_avoided: bool,
    now: datetime,
) -> Outcome:
    """Close and rate; an identified patient's record receives the entry ("chat assíncrono")."""
    _require(caller, case, CaseRole.SOLICITANTE)
    _require_status("close", case, CaseStatus.ANSWERED)
    case.satisfaction = satisfaction
    case.referral_avoided = referral_avoided
    case.closed_at = now
    consultation = await _consultation(db, case)
    consultation.end(now)
    _move(db, case, "close", CaseStatus.CLOSED, caller, now)
    await db.flush()
    if case.patient_id is not None:
        # Local import: records is a sibling feature; its writer is the one hook into it.
        from server.records.session_record import write_case_entry

        await write_case_entry(db, case.consultation_id)
    return Outcome(case, [_notice(case, "case_closed", "Caso encerrado", case.specialist_id)])


async def return_case(
    db: AsyncSession, caller: Caller, case: Case, reason: str, now: datetime
) -> Outcome:
    return await _end_in_regulation(db, caller, case, reason, now, CaseStatus.RETURNED, "return")


async def refuse(
    db: AsyncSession, caller: Caller, case: Case, reason: str, now: datetime
) -> Outcome:
    return await _end_in_regulation(db, caller, case, reason, now, CaseStatus.REFUSED, "refuse")


async def _end_in_regulation(
    db: AsyncSession,
    caller: Caller,
    case: Case,
    reason: str,
    now: datetime,
    to: CaseStatus,
    action: str,
) -> Outcome:
    _require(caller, case, CaseRole.REGULADOR)
    _require_status(action, case, CaseStatus.SUBMITTED, CaseStatus.IN_REGULATION)
    await _regulador(db, caller, case)
    case.outcome_reason = reason
    case.closed_at = now
    consultation = await _consultation(db, case)
    consultation.cancel(reason)
    _move(db, case, action, to, caller, now, reason)
    subject = "Seu caso foi devolvido" if to is CaseStatus.RETURNED else "Seu caso foi recusado"
    return Outcome(case, [_notice(case, f"case_{to.value}", subject, case.solicitante_id)])


async def transitions(db: AsyncSession, case_id: uuid.UUID) -> Sequence[CaseTransition]:
    rows = await db.scalars(
        select(CaseTransition).where(CaseTransition.case_id == case_id).order_by(CaseTransition.id)
    )
    return rows.all()
