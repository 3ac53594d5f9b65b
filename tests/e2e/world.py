"""People and consultations arranged in the live server's database for the browser tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.auth.tokens import hash_invite_token, new_invite_token
from server.db.models import (
    Consultation,
    ConsultationParticipant,
    Invite,
    Modality,
    Nucleo,
    ParticipantRole,
    Patient,
    Ponto,
    Professional,
)
from tests.support.factories import (
    PASSWORD,
    add_professional,
    make_consultation,
    make_nucleo,
    make_patient,
    make_ponto,
    make_professional,
)


@dataclass
class Clinic:
    nucleo: Nucleo
    ponto: Ponto
    doctor: Professional
    specialist: Professional
    patient: Patient
    password: str = PASSWORD


async def make_clinic(sessions: async_sessionmaker[AsyncSession]) -> Clinic:
    async with sessions.begin() as db:
        nucleo = await make_nucleo(db, name="Núcleo de Telessaúde de Minas Gerais")
        ponto = await make_ponto(db, nucleo, name="UBS Jardim Industrial")
        doctor = await make_professional(db, nucleo=nucleo, ponto=ponto, name="Dra. Ana Souza")
        specialist = await make_professional(
            db, nucleo=nucleo, name="Dr. Bruno Lima", category="médico cardiologista"
        )
        patient = await make_patient(db, name="João da Silva")
    return Clinic(nucleo, ponto, doctor, specialist, patient)


async def make_video_consultation(
    sessions: async_sessionmaker[AsyncSession],
    clinic: Clinic,
    *,
    modality: Modality = Modality.TELECONSULTA,
    with_patient: bool = True,
    specialist: bool = False,
) -> Consultation:
    async with sessions.begin() as db:
        consultation = await make_consultation(
            db,
            clinic.doctor,
            patient=clinic.patient if with_patient else None,
            modality=modality,
            scheduled_for=datetime.now(UTC) + timedelta(minutes=5),
        )
        if specialist:
            await add_professional(
                db, consultation, clinic.specialist, ParticipantRole.TELECONSULTOR
            )
    return consultation


async def make_invite(
    sessions: async_sessionmaker[AsyncSession],
    consultation: Consultation,
    participant_id: object,
    created_by: Professional,
    role: ParticipantRole = ParticipantRole.PACIENTE,
) -> str:
    """A usable invite link token, stored as the HTTP API stores it (only its hash)."""
    token = new_invite_token()
    async with sessions.begin() as db:
        db.add(
            Invite(
                consultation_id=consultation.id,
                participant_id=participant_id,
                role=role,
                token_sha256=hash_invite_token(token),
                expires_at=datetime.now(UTC) + timedelta(hours=2),
                created_by_id=created_by.id,
            )
        )
    return token


async def patient_participant(
    sessions: async_sessionmaker[AsyncSession], consultation: Consultation
) -> ConsultationParticipant:
    from sqlalchemy import select

    async with sessions() as db:
        row = await db.scalar(
            select(ConsultationParticipant).where(
                ConsultationParticipant.consultation_id == consultation.id,
                ConsultationParticipant.role == ParticipantRole.PACIENTE,
            )
        )
    assert row is not None
    return row
