"""Who may read a patient's record (every access is audited by the caller: server.audit).

Patients read only their own record. Professionals read the record of a patient only while a
consultation links them: they take part in a consultation of that patient (art. 449 III/VI,
LGPD: minimal access). A professional who is asked by the patient for a copy outside such a
link is added to one of the patient's consultations first, which itself is audited. Gestores
read the audit trail, not clinical content.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.tokens import Caller, CallerKind
from server.db.models import Consultation, ConsultationParticipant


async def can_read_patient(db: AsyncSession, caller: Caller, patient_id: uuid.UUID) -> bool:
    if caller.kind is CallerKind.PATIENT:
        return caller.patient_id == patient_id
    if caller.kind is not CallerKind.PROFESSIONAL or caller.professional_id is None:
        return False
    linked = await db.scalar(
        select(ConsultationParticipant.id)
        .join(Consultation, Consultation.id == ConsultationParticipant.consultation_id)
        .where(
            ConsultationParticipant.professional_id == caller.professional_id,
            ConsultationParticipant.removed_at.is_(None),
            Consultation.patient_id == patient_id,
        )
        .limit(1)
    )
    return linked is not None


async def can_read_consultation(
    db: AsyncSession, caller: Caller, consultation_id: uuid.UUID
) -> bool:
    """Participants of the consultation (and its patient) may read what belongs to it."""
    if caller.kind is CallerKind.PATIENT:
        consultation = await db.get(Consultation, consultation_id)
        return consultation is not None and consultation.patient_id == caller.patient_id
    if caller.kind is not CallerKind.PROFESSIONAL:
        return False
    linked = await db.scalar(
        select(ConsultationParticipant.id).where(
            ConsultationParticipant.consultation_id == consultation_id,
            ConsultationParticipant.removed_at.is_(None),
            ConsultationParticipant.professional_id == caller.professional_id,
        )
    )
    return linked is not None
