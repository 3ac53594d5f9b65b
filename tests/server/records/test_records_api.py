"""The prontuário over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import AuditEvent, Modality
from server.keys import TOKENS
from server.records.consent import has_consent
from server.records.models import RecordEntry
from tests.server.records.world import Visit, World, bearer, patient_token, professional_token

Sessions = async_sessionmaker[AsyncSession]
Client = TestClient[Any, Any]

NOTE: dict[str, Any] = {
    "reasons": [{"system": "CID-10", "code": "J45.9", "display": "Asma não especificada"}],
    "subjective": "Refere dispneia aos esforços há duas semanas.",
    "objective": "Fala frases completas; sem tiragem visível na câmera.",
    "assessment": "Asma parcialmente controlada.",
    "plan": "Ajustar corticoide inalatório; retorno em 30 dias.",
}


def _doctor(client: Client, world: World) -> dict[str, str]:
    return bearer(professional_token(client.app[TOKENS], world.doctor))


async def _audit(sessions: Sessions, **where: Any) -> list[AuditEvent]:
    async with sessions() as db:
        stmt = select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
        return list((await db.scalars(stmt)).all())


async def _entries(sessions: Sessions) -> list[RecordEntry]:
    async with sessions() as db:
        return list((await db.scalars(select(RecordEntry))).all())


async def _accept_in_browser(client: Client, visit: Visit) -> dict[str, Any]:
    term = await (await client.get(f"/api/consent-terms/{visit.consultation.modality}")).json()
    response = await client.post(
        f"/api/consultations/{visit.consultation.id}/consent",
        json={
            "decision": "accepted",
            "channel": "browser",
            "term_version": term["version"],
            "term_sha256": term["sha256"],
        },
        headers=bearer(patient_token(client.app[TOKENS], visit)),
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_the_consent_term_is_public_and_in_portuguese(client: Client) -> None:
    response = await client.get("/api/consent-terms/teleconsulta")
    assert response.status == 200
    term = await response.json()
    assert term["version"] == 1 and len(term["sha256"]) == 64
    assert "Termo de Consentimento Livre e Esclarecido" in term["title"]
    assert "atendimento presencial" in term["text"]
    assert (await client.get("/api/consent-terms/telepatia")).status == 404


async def test_the_patient_accepts_in_the_browser_and_the_gate_opens(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    body = await _accept_in_browser(client, visit)
    assert body["decision"] == "accepted" and body["channel"] == "browser"
    async with sessions() as db:
        assert await has_consent(db, visit.consultation.id, world.patient.id)
    events = await _audit(sessions, resource_type="consent", action="create")
    assert [e.patient_id for e in events] == [world.patient.id]


async def test_a_patient_token_for_another_consultation_cannot_decide(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    other = await world.visit(sessions, patient=world.other_patient)
    response = await client.post(
        f"/api/consultations/{visit.consultation.id}/consent",
        json={
            "decision": "refused",
            "channel": "browser",
            "term_version": 1,
            "term_sha256": "a" * 64,
        },
        headers=bearer(patient_token(client.app[TOKENS], other)),
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


async def test_a_stale_term_hash_is_a_conflict_with_the_current_version(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    response = await client.post(
        f"/api/consultations/{visit.consultation.id}/consent",
        json={
            "decision": "accepted",
            "channel": "browser",
            "term_version": 1,
            "term_sha256": "0" * 64,
        },
        headers=bearer(patient_token(client.app[TOKENS], visit)),
    )
    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "consent_term_outdated" and "termo" in error["message"]
    assert await _entries(sessions) == []


async def test_the_professional_registers_a_representative_and_then_a_revocation(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions)
    term = await (await client.get("/api/consent-terms/teleconsulta")).json()
    url = f"/api/consultations/{visit.consultation.id}/consent"
    accepted = await client.post(
        url,
        json={
            "decision": "accepted",
            "channel": "legal_representative",
            "term_version": term["version"],
            "term_sha256": term["sha256"],
            "representative_name": "Joana Silva",
            "representative_relationship": "filha",
        },
        headers=_doctor(client, world),
    )
    assert accepted.status == 201, await accepted.text()
    assert (await accepted.json())["registered_by_council"] == world.doctor.council_label
    revoked = await client.post(
        url,
        json={"decision": "revoked", "channel": "verbal_transcribed"},
        headers=_doctor(client, world),
    )
    assert revoked.status == 201, await revoked.text()
    state = await (await client.get(url, headers=_doctor(client, world))).json()
    assert state["decision"] == "revoked"


async def test_a_note_is_written_and_read_back_with_its_coded_reason(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, ended=True)
    response = await client.post(
        f"/api/consultations/{visit.consultation.id}/notes",
        json=NOTE,
        headers=_doctor(client, world),
    )
    assert response.status == 201, await response.text()
    entry = await response.json()
    assert entry["kind"] == "clinical_note"
    assert entry["payload"]["reasons"][0]["code"] == "J45.9"
    assert entry["payload"]["author"]["council_label"] == world.doctor.council_label

    record = await client.get(
        f"/api/patients/{world.patient.id}/record", headers=_doctor(client, world)
    )
    assert record.status == 200
    assert [e["id"] for e in (await record.json())["entries"]] == [entry["id"]]
    reads = await _audit(sessions, resource_type="record", action="read", outcome="success")
    assert [(e.actor_id, e.patient_id) for e in reads] == [(str(world.doctor.id), world.patient.id)]


async def test_malformed_codes_and_missing_or_oversized_fields_are_422_in_portuguese(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, ended=True)
    url = f"/api/consultations/{visit.consultation.id}/notes"
    cases = [
        ({**NOTE, "reasons": [{"system": "CID-10", "code": "J4"}]}, "cid10_format"),
        ({**NOTE, "reasons": [{"system": "CID-10", "code": "45.9J"}]}, "cid10_format"),
        ({**NOTE, "reasons": [{"system": "CIAP-2", "code": "C01"}]}, "ciap2_format"),
        ({**NOTE, "reasons": [{"system": "CIAP-2", "code": "K8"}]}, "ciap2_format"),
        ({**NOTE, "reasons": []}, "too_short"),
        ({k: v for k, v in NOTE.items() if k != "plan"}, "missing"),
        ({**NOTE, "assessment": "   "}, "blank"),
        ({**NOTE, "subjective": "x" * 10_001}, "string_too_long"),
        ({**NOTE, "extra": "campo"}, "extra_forbidden"),
    ]
    for body, code in cases:
        response = await client.post(url, json=body, headers=_doctor(client, world))
        assert response.status == 422, (code, await response.text())
        error = (await response.json())["error"]
        assert error["code"] == "invalid_payload"
        assert [d["code"] for d in error["details"]] == [code], error
        assert error["message"] == "Dados inválidos."
    ciap = await client.post(
        url,
        json={**NOTE, "reasons": [{"system": "CIAP-2", "code": "k86"}]},
        headers=_doctor(client, world),
    )
    assert ciap.status == 201
    assert (await ciap.json())["payload"]["reasons"][0]["code"] == "K86"
    assert len(await _entries(sessions)) == 1


async def test_a_professional_outside_the_consultation_cannot_write_a_note(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, ended=True)
    response = await client.post(
        f"/api/consultations/{visit.consultation.id}/notes",
        json=NOTE,
        headers=bearer(professional_token(client.app[TOKENS], world.outsider)),
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "not_a_participant"
    assert await _entries(sessions) == []
    denied = await _audit(sessions, outcome="denied")
    assert [(e.actor_id, e.resource_type) for e in denied] == [
        (str(world.outsider.id), "clinical_note")
    ]


async def test_a_patient_cannot_read_another_patients_record_and_the_attempt_is_audited(
    client: Client, sessions: Sessions, world: World
) -> None:
    mine = await world.visit(sessions)
    await world.visit(sessions, patient=world.other_patient)
    token = bearer(patient_token(client.app[TOKENS], mine))
    assert (
        await client.get(f"/api/patients/{world.patient.id}/record", headers=token)
    ).status == 200
    response = await client.get(f"/api/patients/{world.other_patient.id}/record", headers=token)
    assert response.status == 403
    assert "prontuário" in (await response.json())["error"]["message"]
    denied = await _audit(sessions, outcome="denied")
    assert [e.resource_id for e in denied] == [str(world.other_patient.id)]
    outsider = bearer(professional_token(client.app[TOKENS], world.outsider))
    assert (
        await client.get(f"/api/patients/{world.patient.id}/record", headers=outsider)
    ).status == 403
    assert (await client.get(f"/api/patients/{world.patient.id}/record")).status == 401


async def test_a_correction_is_a_new_entry_and_the_original_stays(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, ended=True)
    note = await (
        await client.post(
            f"/api/consultations/{visit.consultation.id}/notes",
            json=NOTE,
            headers=_doctor(client, world),
        )
    ).json()
    response = await client.post(
        f"/api/records/{note['id']}/corrections",
        json={"reason": "Dose registrada errada.", "text": "Plano: budesonida 400 mcg/dia."},
        headers=_doctor(client, world),
    )
    assert response.status == 201, await response.text()
    correction = await response.json()
    assert correction["corrects_id"] == note["id"] and correction["kind"] == "correction"
    record = await (
        await client.get(f"/api/patients/{world.patient.id}/record", headers=_doctor(client, world))
    ).json()
    original = record["entries"][0]
    assert original["payload"] == note["payload"] and original["corrected_by"] == [correction["id"]]
    check = await (
        await client.get(
            f"/api/patients/{world.patient.id}/record/verification", headers=_doctor(client, world)
        )
    ).json()
    assert check["intact"] is True and check["entries_checked"] == 2


async def test_the_two_parts_of_the_rati_are_written_by_their_own_authors(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, modality=Modality.TELEINTERCONSULTA, with_specialist=True)
    url = f"/api/consultations/{visit.consultation.id}/recommendations"
    specialist = bearer(professional_token(client.app[TOKENS], world.specialist))
    request_part = {
        "part": "solicitacao",
        "clinical_question": "Há indicação de ecocardiograma?",
        "clinical_summary": "Sopro sistólico novo em paciente de 63 anos.",
        "reasons": [{"system": "CIAP-2", "code": "K81"}],
    }
    answer_part = {
        "part": "resposta",
        "answer": "Sim, ecocardiograma transtorácico eletivo.",
        "recommendations": "Manter acompanhamento na APS; solicitar ecocardiograma.",
        "in_person_referral": False,
    }
    wrong = await client.post(url, json=request_part, headers=specialist)
    assert wrong.status == 403
    first = await client.post(url, json=request_part, headers=_doctor(client, world))
    second = await client.post(url, json=answer_part, headers=specialist)
    assert (first.status, second.status) == (201, 201), await second.text()
    assert (await second.json())["payload"]["author"]["cbo"] == "225120"
    bad = await client.post(url, json={**answer_part, "part": "parecer"}, headers=specialist)
    assert bad.status == 422
