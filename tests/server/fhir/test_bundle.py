"""The patient copy as a FHIR R4 document Bundle (and PDF), over real HTTP on both databases."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp.test_utils import TestClient
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.chat.models import ChatMessage
from server.db.models import AuditEvent, Modality
from server.fhir.systems import DEFAULT_SYSTEMS as S
from server.keys import TOKENS
from server.records.session_record import write_session_entry
from tests.server.records.world import Visit, World, bearer, patient_token, professional_token

Sessions = async_sessionmaker[AsyncSession]
Client = TestClient[Any, Any]


async def _full_teleinterconsulta(client: Client, sessions: Sessions, world: World) -> Visit:
    visit = await world.visit(sessions, modality=Modality.TELEINTERCONSULTA, with_specialist=True)
    doctor = bearer(professional_token(client.app[TOKENS], world.doctor))
    specialist = bearer(professional_token(client.app[TOKENS], world.specialist))
    cid = visit.consultation.id
    term = await (await client.get("/api/consent-terms/teleinterconsulta")).json()
    consent = await client.post(
        f"/api/consultations/{cid}/consent",
        json={
            "decision": "accepted",
            "channel": "verbal_transcribed",
            "term_version": term["version"],
            "term_sha256": term["sha256"],
        },
        headers=doctor,
    )
    assert consent.status == 201
    await world.run_session(sessions, visit)
    async with sessions.begin() as db:
        await write_session_entry(db, cid)
        db.add(
            ChatMessage(
                channel=f"consultation:{cid}",
                author_kind="professional",
                author_id=str(world.specialist.id),
                author_name=world.specialist.name,
                client_msg_id="m1",
                text="Pode mostrar o exame?",
            )
        )
    note = await client.post(
        f"/api/consultations/{cid}/notes",
        json={
            "reasons": [
                {"system": "CIAP-2", "code": "K86", "display": "Hipertensão sem complicações"}
            ],
            "subjective": "Cefaleia ocasional.",
            "assessment": "HAS controlada.",
            "plan": "Manter losartana.",
        },
        headers=doctor,
    )
    assert note.status == 201
    answer = await client.post(
        f"/api/consultations/{cid}/recommendations",
        json={
            "part": "resposta",
            "answer": "Sem indicação de ajuste.",
            "recommendations": "Reavaliar em 6 meses.",
            "in_person_referral": False,
        },
        headers=specialist,
    )
    assert answer.status == 201
    atestado = await client.post(
        f"/api/consultations/{cid}/documents/atestado",
        json={"days": 1, "purpose": "comparecimento"},
        headers=doctor,
    )
    assert atestado.status == 201, await atestado.text()
    return visit


def _by_type(bundle: Bundle) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for entry in bundle.entry or []:
        assert entry.resource is not None
        out.setdefault(entry.resource.get_resource_type(), []).append(entry.resource)
    return out


async def test_the_patient_copy_is_a_document_bundle_with_every_resource_and_identifier(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await _full_teleinterconsulta(client, sessions, world)
    response = await client.get(
        f"/api/patients/{world.patient.id}/record.fhir.json",
        headers=bearer(patient_token(client.app[TOKENS], visit)),
    )
    assert response.status == 200 and response.content_type == "application/fhir+json"
    bundle = Bundle.model_validate_json(await response.text())  # round trip through R4B
    assert bundle.type == "document" and bundle.timestamp is not None
    assert bundle.entry is not None and bundle.entry[0].resource is not None
    assert bundle.entry[0].resource.get_resource_type() == "Composition"
    resources = _by_type(bundle)
    counts = Counter({k: len(v) for k, v in resources.items()})
    assert counts["Patient"] == 1 and counts["Encounter"] == 1 and counts["Consent"] == 1
    assert counts["Communication"] == 1 and counts["DocumentReference"] == 1
    assert counts["Composition"] == 3  # the copy itself, the SOAP note, the RATI answer
    assert counts["Practitioner"] == 2 and counts["PractitionerRole"] == 2
    assert counts["Organization"] == 2

    patient = resources["Patient"][0]
    assert {(i.system, i.value) for i in patient.identifier} == {
        (S.cpf, world.patient.cpf),
        (S.cns, world.patient.cns),
    }
    assert S.cpf == "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cpf"
    roles = {r.practitioner.display: r for r in resources["PractitionerRole"]}
    doctor_role = roles[world.doctor.name]
    assert [(i.system, i.value) for i in doctor_role.identifier] == [
        (S.council("CRM", "MG"), world.doctor.council_number)
    ]
    assert doctor_role.code[0].coding[0].system == S.cbo
    assert doctor_role.code[0].coding[0].code == "225142"
    assert {o.identifier[0].value for o in resources["Organization"]} == {
        world.nucleo.cnes,
        world.ponto.cnes,
    }
    assert all(o.identifier[0].system == S.cnes for o in resources["Organization"])
    encounter = resources["Encounter"][0]
    assert encounter.class_fhir.code == "VR" and encounter.status == "finished"
    assert encounter.period.start is not None and encounter.period.end is not None
    assert len(encounter.participant) == 2
    consent = resources["Consent"][0]
    assert consent.status == "active" and consent.verification[0].verified is True
    note = next(c for c in resources["Composition"][1:] if c.category)
    assert (note.category[0].coding[0].system, note.category[0].coding[0].code) == (S.ciap2, "K86")
    assert [s.title for s in note.section][-1] == "Plano"
    document = resources["DocumentReference"][0]
    assert document.content[0].attachment.contentType == "application/pdf"
    assert resources["Communication"][0].payload[0].contentString == "Pode mostrar o exame?"


async def test_the_session_export_holds_only_that_session(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await _full_teleinterconsulta(client, sessions, world)
    await world.visit(sessions, ended=True)  # another consultation of the same patient
    doctor = bearer(professional_token(client.app[TOKENS], world.doctor))
    response = await client.get(
        f"/api/consultations/{visit.consultation.id}/fhir.json", headers=doctor
    )
    assert response.status == 200
    bundle = Bundle.model_validate_json(await response.text())
    encounters = _by_type(bundle)["Encounter"]
    assert [e.id for e in encounters] == [str(visit.consultation.id)]
    outsider = bearer(professional_token(client.app[TOKENS], world.outsider))
    denied = await client.get(
        f"/api/consultations/{visit.consultation.id}/fhir.json", headers=outsider
    )
    assert denied.status == 403


async def test_the_pdf_copy_is_served_to_the_patient_and_every_export_is_audited(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await _full_teleinterconsulta(client, sessions, world)
    token = bearer(patient_token(client.app[TOKENS], visit))
    response = await client.get(f"/api/patients/{world.patient.id}/record.pdf", headers=token)
    assert response.status == 200 and response.content_type == "application/pdf"
    assert (await response.read()).startswith(b"%PDF")
    other = await client.get(f"/api/patients/{world.other_patient.id}/record.pdf", headers=token)
    assert other.status == 403
    await client.get(f"/api/patients/{world.patient.id}/record.fhir.json", headers=token)
    async with sessions() as db:
        exports = (
            await db.scalars(
                select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)
            )
        ).all()
    assert [(e.detail, e.actor_kind, e.patient_id) for e in exports] == [
        ("pdf", "patient", world.patient.id),
        ("fhir", "patient", world.patient.id),
    ]
