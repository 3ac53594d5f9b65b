"""Demo data for ``telessaude seed-demo``: fake people with *valid* check digits.

Idempotent: every record has a fixed identifier (CNES, CPF), and a record that already
exists is left as it is. The logins are printed by ``make run`` and only make sense in
development: the password is public.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import hash_password
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
)

DEMO_PASSWORD = "telessaude"

# Fixed numbers generated once with server.identifiers.fake_* (random.Random(7)): valid
# check digits, nobody's real documents.
NUCLEO_CNES = "7654321"
UBS_CNES = "2345678"
CAPS_CNES = "3456789"


@dataclass(frozen=True)
class DemoLogin:
    cpf: str
    name: str
    what: str


@dataclass(frozen=True)
class _Pro:
    cpf: str
    name: str
    role: AccountRole
    council: Council | None
    council_number: str | None
    council_uf: str | None
    category: str | None
    cbo: str | None
    at: str  # "nucleo" or "ubs"
    is_regulador: bool
    what: str


PROFESSIONALS = (
    _Pro("52601815906", "Dra. Helena Ribeiro", AccountRole.PROFISSIONAL, Council.CRM, "54321",
         "MG", "médica", "225142", "ubs", False,
         "médica de família (CRM-MG), solicitante na UBS"),
    _Pro("08301661305", "Enf. Marcos Andrade", AccountRole.PROFISSIONAL, Council.COREN, "123456",
         "MG", "enfermeiro", "223565", "nucleo", True,
         "enfermeiro (COREN-MG), teleconsultor e regulador no Núcleo"),
    _Pro("18609139034", "Psic. Juliana Costa", AccountRole.PROFISSIONAL, Council.CRP, "12345",
         "04", "psicóloga", "251510", "nucleo", False,
         "psicóloga (CRP-04), teleconsultora no Núcleo"),
    _Pro("99603082430", "Roberto Lima", AccountRole.GESTOR, None, None, None, None, None,
         "nucleo", False, "gestor do Núcleo"),
)  # fmt: skip

PATIENTS = (
    ("Maria Aparecida da Silva", None, "62819482112", "794875749118628", date(1958, 3, 14)),
    ("João Pedro Santos", "Joana Santos", "99351819019", "227601895550008", date(1994, 11, 2)),
)


async def seed_demo(db: AsyncSession) -> list[DemoLogin]:
    """Create what is missing; return the demo logins."""
    nucleo = await db.scalar(select(Nucleo).where(Nucleo.cnes == NUCLEO_CNES))
    if nucleo is None:
        nucleo = Nucleo(
            name="Núcleo Estadual de Telessaúde de Minas Gerais (demo)",
            type=NucleoType.ESTADUAL_DISTRITAL,
            cnes=NUCLEO_CNES,
            uf="MG",
            municipality="Belo Horizonte",
        )
        db.add(nucleo)
        await db.flush()
    pontos: dict[str, Ponto] = {}
    for key, cnes, name, kind, city in (
        ("ubs", UBS_CNES, "UBS Jardim Industrial (demo)", "02", "Contagem"),
        ("caps", CAPS_CNES, "CAPS Betim Centro (demo)", "70", "Betim"),
    ):
        ponto = await db.scalar(select(Ponto).where(Ponto.cnes == cnes))
        if ponto is None:
            ponto = Ponto(
                name=name, cnes=cnes, establishment_type=kind, uf="MG", municipality=city,
                nucleos=[nucleo],
            )  # fmt: skip
            db.add(ponto)
            await db.flush()
        pontos[key] = ponto
    password_hash = hash_password(DEMO_PASSWORD)
    logins: list[DemoLogin] = []
    people: dict[str, Professional] = {}
    for spec in PROFESSIONALS:
        professional = await db.scalar(select(Professional).where(Professional.cpf == spec.cpf))
        if professional is None:
            professional = Professional(
                name=spec.name,
                cpf=spec.cpf,
                role=spec.role,
                council=spec.council,
                council_number=spec.council_number,
                council_uf=spec.council_uf,
                category=spec.category,
                cbo=spec.cbo,
                nucleo_id=nucleo.id,
                ponto_id=pontos["ubs"].id if spec.at == "ubs" else None,
                is_regulador=spec.is_regulador,
                password_hash=password_hash,
            )
            db.add(professional)
            await db.flush()
        people[spec.cpf] = professional
        logins.append(DemoLogin(spec.cpf, spec.name, spec.what))
    patients: list[Patient] = []
    for name, social, cpf, cns, birth in PATIENTS:
        patient = await db.scalar(select(Patient).where(Patient.cpf == cpf))
        if patient is None:
            patient = Patient(
                name=name, social_name=social, cpf=cpf, cns=cns, birth_date=birth,
                municipality="Contagem", uf="MG",
            )  # fmt: skip
            db.add(patient)
            await db.flush()
        patients.append(patient)
    if await db.scalar(select(Consultation.id).limit(1)) is None:
        await _demo_agenda(db, nucleo, pontos["ubs"], people, patients)
    return logins


async def _demo_agenda(
    db: AsyncSession,
    nucleo: Nucleo,
    ubs: Ponto,
    people: dict[str, Professional],
    patients: list[Patient],
) -> None:
    """Two consultations later today, so the agenda is not empty on first login."""
    medica, enfermeiro, psicologa = (people[p.cpf] for p in PROFESSIONALS[:3])
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for when, modality, consultor, patient in (
        (now + timedelta(minutes=30), Modality.TELEINTERCONSULTA, psicologa, patients[0]),
        (now + timedelta(hours=2), Modality.TELECONSULTA, enfermeiro, patients[1]),
    ):
        db.add(
            Consultation(
                modality=modality,
                mode=ConsultationMode.SYNC,
                scheduled_for=when,
                nucleo_id=nucleo.id,
                ponto_id=ubs.id,
                patient_id=patient.id,
                created_by_id=medica.id,
                title=f"{modality.value.capitalize()} (demo)",
                participants=[
                    ConsultationParticipant(
                        role=ParticipantRole.SOLICITANTE,
                        professional_id=medica.id,
                        display_name=medica.name,
                    ),
                    ConsultationParticipant(
                        role=ParticipantRole.TELECONSULTOR,
                        professional_id=consultor.id,
                        display_name=consultor.name,
                    ),
                    ConsultationParticipant(
                        role=ParticipantRole.PACIENTE,
                        patient_id=patient.id,
                        display_name=patient.social_name or patient.name,
                    ),
                ],
            )
        )
    await db.flush()
