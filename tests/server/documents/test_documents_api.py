"""Issuing, downloading and verifying signed documents over real HTTP, on both databases."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from aiohttp.test_utils import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.api.documents import SIGNING
from server.db.models import AuditEvent
from server.documents.models import SignedDocument
from server.keys import TOKENS
from server.records.chain import verify_chain
from server.records.models import EntryKind, RecordEntry
from tests.server.records.world import World, bearer, patient_token, professional_token

Sessions = async_sessionmaker[AsyncSession]
Client = TestClient[Any, Any]

ATESTADO = {"days": 3, "purpose": "afastamento do trabalho"}
RECEITA = {
    "items": [
        {
            "medication": "Amoxicilina 500 mg cápsula",
            "use": "Uso oral: 1 cápsula de 8 em 8 horas por 7 dias.",
            "quantity": "21 cápsulas",
        }
    ]
}


def _doctor(client: Client, world: World) -> dict[str, str]:
    return bearer(professional_token(client.app[TOKENS], world.doctor))


async def test_an_atestado_is_signed_stored_recorded_and_verifiable(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, ended=True)
    response = await client.post(
        f"/api/consultations/{visit.consultation.id}/documents/atestado",
        json={**ATESTADO, "cid10": "j45.9", "patient_authorized_diagnosis": True},
        headers=_doctor(client, world),
    )
    assert response.status == 201, await response.text()
    issued = await response.json()
    assert issued["development_signature"] is True

    pdf_response = await client.get(issued["url"], headers=_doctor(client, world))
    assert pdf_response.status == 200 and pdf_response.content_type == "application/pdf"
    pdf = await pdf_response.read()
    identity = await client.app[SIGNING].get(client.app)
    status = await async_validate_pdf_signature(
        PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0],
        ValidationContext(trust_roots=list(identity.trust_roots), allow_fetching=False),
    )
    assert status.intact and status.valid and status.trusted

    check = await (
        await client.get(issued["verification_url"], headers=_doctor(client, world))
    ).json()
    assert check["valid"] and check["matches_stored_hash"] and check["development_signature"]
    assert "desenvolvimento" in check["signer"]
    assert check["signing_time"] is not None

    async with sessions() as db:
        entry = await db.get(RecordEntry, uuid.UUID(issued["entry_id"]))
        assert entry is not None and entry.kind is EntryKind.DOCUMENT
        payload = json.loads(entry.payload)
        assert payload["sha256"] == issued["sha256"]
        assert payload["content"]["cid10"] == "J45.9"
        assert payload["author"]["council_label"] == world.doctor.council_label
        assert (await verify_chain(db, world.patient.id)).intact
        actions = (
            await db.scalars(
                select(AuditEvent.action).where(AuditEvent.resource_id == issued["document_id"])
            )
        ).all()
    assert sorted(actions) == ["read", "sign", "verify"]


async def test_a_modified_copy_fails_public_verification(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, ended=True)
    issued = await (
        await client.post(
            f"/api/consultations/{visit.consultation.id}/documents/receita",
            json=RECEITA,
            headers=_doctor(client, world),
        )
    ).json()
    pdf = await (await client.get(issued["url"], headers=_doctor(client, world))).read()
    good = await client.post(
        "/api/documents/verification", data=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert (await good.json())["valid"] is True
    tampered = bytearray(pdf)
    tampered[len(pdf) // 4] ^= 0x01
    bad = await client.post(
        "/api/documents/verification",
        data=bytes(tampered),
        headers={"Content-Type": "application/pdf"},
    )
    body = await bad.json()
    assert bad.status == 200 and body["valid"] is False and body["intact"] is False
    wrong_type = await client.post("/api/documents/verification", json={"pdf": "x"})
    assert wrong_type.status == 415


async def test_the_patient_downloads_their_own_document_but_not_anothers(
    client: Client, sessions: Sessions, world: World
) -> None:
    mine = await world.visit(sessions, ended=True)
    theirs = await world.visit(sessions, patient=world.other_patient, ended=True)
    issued = await (
        await client.post(
            f"/api/consultations/{theirs.consultation.id}/documents/atestado",
            json=ATESTADO,
            headers=_doctor(client, world),
        )
    ).json()
    token = bearer(patient_token(client.app[TOKENS], mine))
    assert (await client.get(issued["url"], headers=token)).status == 403
    owner = bearer(patient_token(client.app[TOKENS], theirs))
    assert (await client.get(issued["url"], headers=owner)).status == 200


async def test_bad_document_requests_are_clear_4xx_and_write_nothing(
    client: Client, sessions: Sessions, world: World
) -> None:
    visit = await world.visit(sessions, ended=True)
    base = f"/api/consultations/{visit.consultation.id}/documents"
    doctor = _doctor(client, world)
    cases = [
        ("atestado", {"purpose": "trabalho"}, 422, "invalid_payload"),
        ("atestado", {**ATESTADO, "days": -1}, 422, "invalid_payload"),
        ("atestado", {**ATESTADO, "cid10": "J45.9"}, 422, "invalid_payload"),
        (
            "atestado",
            {**ATESTADO, "cid10": "XYZ", "patient_authorized_diagnosis": True},
            422,
            "invalid_payload",
        ),
        ("receita", {"items": []}, 422, "invalid_payload"),
        (
            "receita",
            {"items": [{"medication": "Dipirona", "quantity": "1"}]},
            422,
            "invalid_payload",
        ),
        (
            "receita",
            {"items": [{**RECEITA["items"][0], "use": "x" * 1001}]},
            422,
            "invalid_payload",
        ),
    ]
    for kind, body, status, code in cases:
        response = await client.post(f"{base}/{kind}", json=body, headers=doctor)
        assert response.status == status, (body, await response.text())
        assert (await response.json())["error"]["code"] == code
    outsider = bearer(professional_token(client.app[TOKENS], world.outsider))
    refused = await client.post(f"{base}/atestado", json=ATESTADO, headers=outsider)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "not_a_participant"
    scheduled = await world.visit(sessions)
    early = await client.post(
        f"/api/consultations/{scheduled.consultation.id}/documents/atestado",
        json=ATESTADO,
        headers=doctor,
    )
    assert early.status == 409
    async with sessions() as db:
        assert (await db.scalars(select(SignedDocument))).all() == []
        assert (await db.scalars(select(RecordEntry))).all() == []
