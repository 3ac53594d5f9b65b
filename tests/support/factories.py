"""Builders for the core records and for logged-in callers, shared by every test package.

Names are stable: other packages' tests import them. Each builder adds to an open session and
flushes (so ids exist) without committing; ``create_*`` helpers that take a sessionmaker
commit their own transaction.
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.auth.login import caller_for
from server.auth.passwords import hash_password
from server.auth.tokens import Caller, CallerKind, TokenService
from server.db.base import Base
from server.db.models import (
    AccountRole,
    Consultation,
    ConsultationMode,
    ConsultationParticipant,
    Council,
    Modality,
    Nucleo,
    NucleoType,
    ParticipantRole,
    Patient,
    Ponto,
    Professional,
    ponto_nucleo,
)
from server.identifiers import fake_cnes, fake_cns, fake_cpf
from server.keys import TOKENS

PASSWORD = "senha-de-teste-123"
# One hash for every test account: argon2 is deliberately slow.
_PASSWORD_HASH = hash_password(PASSWORD)
_rng = random.Random(20240607)
_counter = itertools.count(1)

TestClientT = TestClient[Any, Any]


def new_cpf() -> str:
    return fake_cpf(_rng)


def new_cns() -> str:
    return fake_cns(_rng)


def new_cnes() -> str:
    return fake_cnes(_rng)


async def make_nucleo(db: AsyncSession, **fields: Any) -> Nucleo:
    nucleo = Nucleo(
        name=fields.pop("name", f"Núcleo {next(_counter)}"),
        type=fields.pop("type", NucleoType.ESTADUAL_DISTRITAL),
        cnes=fields.pop("cnes", new_cnes()),
        uf=fields.pop("uf", "MG"),
        municipality=fields.pop("municipality", "Belo Horizonte"),
        **fields,
    )
    db.add(nucleo)
    await db.flush()
    return nucleo


async def make_ponto(db: AsyncSession, nucleo: Nucleo | None = None, **fields: Any) -> Ponto:
    ponto = Ponto(
        name=fields.pop("name", f"UBS {next(_counter)}"),
        cnes=fields.pop("cnes", new_cnes()),
        establishment_type=fields.pop("establishment_type", "02"),
        uf=fields.pop("uf", "MG"),
        municipality=fields.pop("municipality", "Contagem"),
        **fields,
    )
    db.add(ponto)
    await db.flush()
    if nucleo is not None:
        await db.execute(ponto_nucleo.insert().values(ponto_id=ponto.id, nucleo_id=nucleo.id))
    return ponto


async def make_professional(
    db: AsyncSession,
    *,
    role: AccountRole = AccountRole.PROFISSIONAL,
    nucleo: Nucleo | None = None,
    ponto: Ponto | None = None,
    is_regulador: bool = False,
    council: Council | None = Council.CRM,
    **fields: Any,
) -> Professional:
    """A login account. Clinicians get a council registration; gestores get none by default."""
    clinician = role is AccountRole.PROFISSIONAL
    professional = Professional(
        name=fields.pop("name", f"Profissional {next(_counter)}"),
        cpf=fields.pop("cpf", new_cpf()),
        role=role,
        council=council if clinician else fields.pop("council_", None),
        council_number=fields.pop("council_number", str(10000 + next(_counter)))
        if clinician
        else None,
        council_uf=fields.pop("council_uf", "MG") if clinician else None,
        category=fields.pop("category", "médico" if clinician else None),
        cbo=fields.pop("cbo", "225142") if clinician else None,
        nucleo_id=nucleo.id if nucleo else fields.pop("nucleo_id", None),
        ponto_id=ponto.id if ponto else fields.pop("ponto_id", None),
        is_regulador=is_regulador,
        password_hash=fields.pop("password_hash", _PASSWORD_HASH),
        **fields,
    )
    db.add(professional)
    await db.flush()
    return professional


async def make_patient(db: AsyncSession, **fields: Any) -> Patient:
    patient = Patient(
        name=fields.pop("name", f"Paciente {next(_counter)}"),
        cpf=fields.pop("cpf", new_cpf()),
        cns=fields.pop("cns", new_cns()),
        birth_date=fields.pop("birth_date", date(1980, 5, 17)),
        uf=fields.pop("uf", "MG"),
        **fields,
    )
    db.add(patient)
    await db.flush()
    return patient


async def make_consultation(
    db: AsyncSession,
    creator: Professional,
    *,
    patient: Patient | None = None,
    nucleo: Nucleo | None = None,
    modality: Modality = Modality.TELECONSULTA,
    mode: ConsultationMode = ConsultationMode.SYNC,
    scheduled_for: datetime | None = None,
    creator_role: ParticipantRole | None = ParticipantRole.SOLICITANTE,
    **fields: Any,
) -> Consultation:
    """A scheduled consultation; the creator joins as ``creator_role`` (None: not at all)."""
    consultation = Consultation(
        modality=modality,
        mode=mode,
        scheduled_for=scheduled_for or datetime.now(UTC) + timedelta(hours=1),
        patient_id=patient.id if patient else None,
        nucleo_id=nucleo.id if nucleo else creator.nucleo_id,
        created_by_id=creator.id,
        **fields,
    )
    db.add(consultation)
    await db.flush()
    if creator_role is not None:
        await add_professional(db, consultation, creator, creator_role)
    if patient is not None:
        await add_patient(db, consultation, patient)
    return consultation


async def add_professional(
    db: AsyncSession,
    consultation: Consultation,
    professional: Professional,
    role: ParticipantRole = ParticipantRole.TELECONSULTOR,
) -> ConsultationParticipant:
    participant = ConsultationParticipant(
        consultation_id=consultation.id,
        role=role,
        professional_id=professional.id,
        display_name=professional.name,
    )
    db.add(participant)
    await db.flush()
    return participant


async def add_patient(
    db: AsyncSession, consultation: Consultation, patient: Patient
) -> ConsultationParticipant:
    participant = ConsultationParticipant(
        consultation_id=consultation.id,
        role=ParticipantRole.PACIENTE,
        patient_id=patient.id,
        display_name=patient.social_name or patient.name,
    )
    db.add(participant)
    await db.flush()
    return participant


async def add_guest(
    db: AsyncSession,
    consultation: Consultation,
    name: str = "Acompanhante",
    role: ParticipantRole = ParticipantRole.CONVIDADO,
) -> ConsultationParticipant:
    participant = ConsultationParticipant(
        consultation_id=consultation.id, role=role, display_name=name
    )
    db.add(participant)
    await db.flush()
    return participant


# -- callers and tokens ------------------------------------------------------------------


def professional_caller(professional: Professional) -> Caller:
    return caller_for(professional)


def participant_caller(participant: ConsultationParticipant) -> Caller:
    """The Caller an invite session gives a patient or a guest."""
    is_patient = participant.patient_id is not None
    return Caller(
        kind=CallerKind.PATIENT if is_patient else CallerKind.GUEST,
        role=AccountRole.PACIENTE,
        subject_id=participant.id,
        consultation_id=participant.consultation_id,
        patient_id=participant.patient_id,
    )


def token_for(tokens: TokenService, who: Professional | ConsultationParticipant) -> str:
    """An access token minted directly (no HTTP, no rate limit)."""
    if isinstance(who, Professional):
        return tokens.access_token(professional_caller(who))
    return tokens.access_token(participant_caller(who))


def auth_header(client: TestClientT, who: Professional | ConsultationParticipant) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client.app[TOKENS], who)}"}


async def login(client: TestClientT, cpf: str, password: str = PASSWORD) -> dict[str, Any]:
    """Log in over HTTP; returns the JSON body (asserts success)."""
    response = await client.post("/api/auth/login", json={"cpf": cpf, "password": password})
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def count_rows(sessions: async_sessionmaker[AsyncSession], model: type[Base]) -> int:
    async with sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


def new_id() -> uuid.UUID:
    return uuid.uuid4()
