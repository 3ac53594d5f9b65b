from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import Consultation, Modality
from server.records.consent import ConsentRequest, current_term, has_consent, record_consent
from server.records.errors import RecordError
from server.records.models import (
    Consent,
    ConsentChannel,
    ConsentDecision,
    EntryKind,
    RecordEntry,
)
from server.records.terms import current_term_text
from tests.server.records.world import Visit, World

Sessions = async_sessionmaker[AsyncSession]


async def _decide(
    sessions: Sessions,
    world: World,
    visit: Visit,
    decision: ConsentDecision,
    channel: ConsentChannel = ConsentChannel.BROWSER,
    **extra: str,
) -> Consent:
    text = current_term_text(visit.consultation.modality)
    async with sessions.begin() as db:
        consultation = await db.get(Consultation, visit.consultation.id)
        assert consultation is not None and visit.patient_participant is not None
        browser = channel is ConsentChannel.BROWSER
        return await record_consent(
            db,
            consultation=consultation,
            patient_id=world.patient.id,
            request=ConsentRequest(decision, channel, text.version, text.sha256, **extra),
            registered_by=None if browser else world.doctor,
            participant_id=visit.patient_participant.id if browser else None,
        )


async def _gate(sessions: Sessions, visit: Visit, world: World) -> bool:
    async with sessions() as db:
        return await has_consent(db, visit.consultation.id, world.patient.id)


async def test_without_any_consent_the_gate_stays_closed(sessions: Sessions, world: World) -> None:
    visit = await world.visit(sessions)
    assert await _gate(sessions, visit, world) is False


async def test_an_acceptance_in_the_browser_opens_the_gate_and_is_a_record_entry(
    sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    consent = await _decide(sessions, world, visit, ConsentDecision.ACCEPTED)
    assert await _gate(sessions, visit, world) is True
    async with sessions() as db:
        entry = await db.scalar(select(RecordEntry).where(RecordEntry.id == consent.entry_id))
    assert entry is not None and entry.kind is EntryKind.CONSENT
    assert consent.term_sha256 == current_term_text(Modality.TELECONSULTA).sha256
    assert consent.registered_by_id is None


async def test_a_refusal_is_stored_and_keeps_the_gate_closed(
    sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    await _decide(sessions, world, visit, ConsentDecision.REFUSED)
    assert await _gate(sessions, visit, world) is False
    async with sessions() as db:
        stored = (await db.scalars(select(Consent))).all()
    assert [c.decision for c in stored] == [ConsentDecision.REFUSED]


async def test_a_revocation_closes_the_gate_and_keeps_the_earlier_acceptance(
    sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    await _decide(sessions, world, visit, ConsentDecision.ACCEPTED)
    await _decide(sessions, world, visit, ConsentDecision.REVOKED)
    assert await _gate(sessions, visit, world) is False
    async with sessions() as db:
        decisions = (await db.scalars(select(Consent.decision).order_by(Consent.decided_at))).all()
    assert decisions == [ConsentDecision.ACCEPTED, ConsentDecision.REVOKED]


async def test_verbal_consent_names_the_registering_professional_with_council_number(
    sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    consent = await _decide(
        sessions, world, visit, ConsentDecision.ACCEPTED, ConsentChannel.VERBAL_TRANSCRIBED
    )
    assert consent.registered_by_id == world.doctor.id
    assert consent.registered_by_council == world.doctor.council_label
    assert consent.registered_by_council.startswith("CRM-MG ")


async def test_a_legal_representative_without_name_is_refused_and_nothing_is_written(
    sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    with pytest.raises(RecordError) as raised:
        await _decide(
            sessions, world, visit, ConsentDecision.ACCEPTED, ConsentChannel.LEGAL_REPRESENTATIVE
        )
    assert raised.value.status == 422
    async with sessions() as db:
        assert (await db.scalars(select(Consent))).all() == []
        assert (await db.scalars(select(RecordEntry))).all() == []


async def test_revoking_without_an_acceptance_is_a_conflict(
    sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    with pytest.raises(RecordError) as raised:
        await _decide(sessions, world, visit, ConsentDecision.REVOKED)
    assert raised.value.code == "nothing_to_revoke"


async def test_the_term_is_stored_once_per_version(sessions: Sessions, world: World) -> None:
    async with sessions.begin() as db:
        first = await current_term(db, Modality.TELEINTERCONSULTA)
        again = await current_term(db, Modality.TELEINTERCONSULTA)
    assert first.id == again.id
    assert "teleinterconsulta" in first.text
    assert first.sha256 == current_term_text(Modality.TELEINTERCONSULTA).sha256
