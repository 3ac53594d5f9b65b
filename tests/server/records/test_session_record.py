from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import ConsultationMode, Modality
from server.records.consent import ConsentRequest, record_consent
from server.records.models import ConsentChannel, ConsentDecision, EntryKind, RecordEntry
from server.records.session_record import write_case_entry, write_session_entry
from server.records.terms import current_term_text
from tests.server.records.world import T0, World

Sessions = async_sessionmaker[AsyncSession]


async def test_a_finished_teleinterconsulta_writes_every_art_450_field(
    sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, modality=Modality.TELEINTERCONSULTA, with_specialist=True)
    text = current_term_text(Modality.TELEINTERCONSULTA)
    async with sessions.begin() as db:
        consent = await record_consent(
            db,
            consultation=visit.consultation,
            patient_id=world.patient.id,
            request=ConsentRequest(
                ConsentDecision.ACCEPTED, ConsentChannel.VERBAL_TRANSCRIBED, 1, text.sha256
            ),
            registered_by=world.doctor,
            participant_id=None,
        )
    await world.run_session(sessions, visit, minutes=25)

    async with sessions.begin() as db:
        entry = await write_session_entry(db, visit.consultation.id)
    assert entry is not None and entry.kind is EntryKind.SESSION_SUMMARY
    payload = json.loads(entry.payload)

    assert payload["modality"] == "teleinterconsulta"
    assert payload["technology"] == "videochamada WebRTC"
    assert payload["started_at"] == T0.isoformat()
    assert payload["ended_at"] == (T0.replace(minute=25)).isoformat()
    assert payload["duration_s"] == 25 * 60
    assert payload["nucleo"]["cnes"] == world.nucleo.cnes
    assert payload["ponto"]["cnes"] == world.ponto.cnes
    assert payload["consent"]["consent_id"] == str(consent.id)
    assert payload["consent"]["term_sha256"] == text.sha256
    assert payload["patient"]["cpf"] == world.patient.cpf
    by_role = {p["role"]: p for p in payload["participants"]}
    assert by_role["solicitante"]["council_label"] == world.doctor.council_label
    assert by_role["solicitante"]["cbo"] == "225142"
    assert by_role["teleconsultor"]["council_number"] == world.specialist.council_number
    assert by_role["teleconsultor"]["cbo"] == "225120"
    assert by_role["paciente"]["council"] is None
    assert all(p["attended"] for p in payload["participants"])


async def test_writing_the_session_entry_twice_keeps_one_entry(
    sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, ended=True)
    async with sessions.begin() as db:
        first = await write_session_entry(db, visit.consultation.id)
    async with sessions.begin() as db:
        second = await write_session_entry(db, visit.consultation.id)
    assert first is not None and second is not None and first.id == second.id
    async with sessions() as db:
        count = len((await db.scalars(select(RecordEntry))).all())
    assert count == 1


async def test_a_closed_async_case_is_recorded_as_asynchronous_chat(
    sessions: Sessions, world: World
) -> None:
    visit = await world.visit(
        sessions, modality=Modality.TELECONSULTORIA, mode=ConsultationMode.ASYNC, ended=True
    )
    async with sessions.begin() as db:
        entry = await write_case_entry(db, visit.consultation.id)
    assert entry is not None
    payload = json.loads(entry.payload)
    assert payload["technology"] == "chat assíncrono"
    assert payload["consent"] is None
