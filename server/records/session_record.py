"""The entry written automatically when a video session or an async case ends (art. 450).

Art. 450 I–III: every telehealth contact goes into the prontuário with date, time, the
technology used and the professionals' council numbers. The entry below carries all of it,
plus the modality, duration, participants (council number, CBO), the Núcleo/Ponto CNES and a
reference to the consent in force.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.db.base import utcnow
from server.db.models import (
    Consultation,
    ConsultationMode,
    ConsultationParticipant,
    Nucleo,
    Patient,
    Ponto,
    Professional,
)
from server.records.chain import append_entry
from server.records.consent import current_consent
from server.records.models import EntryKind, RecordEntry

TECHNOLOGY = {
    ConsultationMode.SYNC: "videochamada WebRTC",
    ConsultationMode.ASYNC: "chat assíncrono",
}


async def write_session_entry(db: AsyncSession, consultation_id: uuid.UUID) -> RecordEntry | None:
    """Write the session summary of a finished consultation; the caller commits.

    Works for both modes: a sync consultation is summarised as "videochamada WebRTC", an async
    one (teleconsultoria by chat) as "chat assíncrono". Idempotent: a second call returns the
    entry already written. Returns None when the consultation has no patient (e.g. a
    teleconsultoria between professionals about no identified patient): there is no prontuário
    to write into.
    """
    consultation = await db.scalar(
        select(Consultation)
        .where(Consultation.id == consultation_id)
        .options(
            selectinload(Consultation.participants).selectinload(
                ConsultationParticipant.attendances
            )
        )
    )
    if consultation is None:
        raise LookupError(f"consultation {consultation_id} not found")
    if consultation.patient_id is None:
        return None
    existing = await db.scalar(
        select(RecordEntry).where(
            RecordEntry.consultation_id == consultation_id,
            RecordEntry.kind == EntryKind.SESSION_SUMMARY,
        )
    )
    if existing is not None:
        return existing
    payload = await session_payload(db, consultation)
    return await append_entry(
        db,
        patient_id=consultation.patient_id,
        kind=EntryKind.SESSION_SUMMARY,
        payload=payload,
        author_kind="system",
        author_id=None,
        consultation_id=consultation.id,
    )


async def write_case_entry(db: AsyncSession, consultation_id: uuid.UUID) -> RecordEntry | None:
    """For a closed async case: the same summary, technology "chat assíncrono"."""
    return await write_session_entry(db, consultation_id)


async def session_payload(db: AsyncSession, consultation: Consultation) -> dict[str, Any]:
    participants = consultation.participants
    professional_ids = [p.professional_id for p in participants if p.professional_id]
    professionals = {
        p.id: p
        for p in (
            await db.scalars(select(Professional).where(Professional.id.in_(professional_ids)))
        ).all()
    }
    joins = [a.joined_at for p in participants for a in p.attendances]
    leaves = [a.left_at for p in participants for a in p.attendances if a.left_at]
    started = consultation.started_at or (min(joins) if joins else None)
    ended = consultation.ended_at or (max(leaves) if leaves else None) or utcnow()
    if started is None:
        started = ended
    consent = None
    if consultation.patient_id is not None:
        consent = await current_consent(db, consultation.id, consultation.patient_id)
    nucleo = await db.get(Nucleo, consultation.nucleo_id) if consultation.nucleo_id else None
    ponto = await db.get(Ponto, consultation.ponto_id) if consultation.ponto_id else None
    patient = await db.get(Patient, consultation.patient_id) if consultation.patient_id else None
    return {
        "consultation_id": str(consultation.id),
        "modality": consultation.modality.value,
        "mode": consultation.mode.value,
        "technology": TECHNOLOGY[consultation.mode],
        "started_at": _iso(started),
        "ended_at": _iso(ended),
        "duration_s": max(0, int((ended - started).total_seconds())),
        "patient": (
            {
                "patient_id": str(patient.id),
                "name": patient.name,
                "cpf": patient.cpf,
                "cns": patient.cns,
            }
            if patient
            else None
        ),
        "participants": [
            _participant(p, professionals.get(p.professional_id) if p.professional_id else None)
            for p in sorted(participants, key=lambda p: p.created_at)
        ],
        "nucleo": (
            {"nucleo_id": str(nucleo.id), "name": nucleo.name, "cnes": nucleo.cnes}
            if nucleo
            else None
        ),
        "ponto": (
            {
                "ponto_id": str(ponto.id),
                "name": ponto.name,
                "cnes": ponto.cnes,
                "establishment_type": ponto.establishment_type,
            }
            if ponto
            else None
        ),
        "consent": (
            {
                "consent_id": str(consent.id),
                "entry_id": str(consent.entry_id) if consent.entry_id else None,
                "decision": consent.decision.value,
                "channel": consent.channel.value,
                "term_version": consent.term_version,
                "term_sha256": consent.term_sha256,
                "decided_at": _iso(consent.decided_at),
            }
            if consent
            else None
        ),
    }


def _participant(
    participant: ConsultationParticipant, professional: Professional | None
) -> dict[str, Any]:
    stays = sorted(participant.attendances, key=lambda a: a.joined_at)
    return {
        "participant_id": str(participant.id),
        "role": participant.role.value,
        "name": professional.name if professional else participant.display_name,
        "professional_id": str(professional.id) if professional else None,
        "council": professional.council.value if professional and professional.council else None,
        "council_number": professional.council_number if professional else None,
        "council_uf": professional.council_uf if professional else None,
        "council_label": professional.council_label if professional else None,
        "cbo": professional.cbo if professional else None,
        "rqe": professional.rqe if professional else None,
        "category": professional.category if professional else None,
        "attended": bool(stays),
        "attendances": [
            {"joined_at": _iso(a.joined_at), "left_at": _iso(a.left_at) if a.left_at else None}
            for a in stays
        ],
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()
