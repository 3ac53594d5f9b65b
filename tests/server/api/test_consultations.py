"""Consultations over HTTP: creation rules, listing windows and scopes, schedule, cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import (
    AccountRole,
    AuditEvent,
    Consultation,
    ConsultationParticipant,
    ConsultationStatus,
    Council,
)
from tests.support.factories import (
    add_professional,
    auth_header,
    count_rows,
    make_consultation,
    make_nucleo,
    make_patient,
    make_professional,
)

Client = TestClient[Any, Any]
Sessions = async_sessionmaker[AsyncSession]


def _at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def test_create_adds_the_creator_as_solicitante_the_patient_and_the_participants(
    client: Client, sessions: Sessions
) -> None:
    async with sessions.begin() as db:
        nucleo = await make_nucleo(db)
        medica = await make_professional(db, nucleo=nucleo, name="Dra. Helena")
        psicologa = await make_professional(
            db, nucleo=nucleo, council=Council.CRP, council_uf="04", name="Psic. Ju"
        )
        patient = await make_patient(db, name="Maria")
    response = await client.post(
        "/api/consultations",
        json={
            "modality": "teleinterconsulta",
            "mode": "sync",
            "scheduled_for": _at(2),
            "expected_duration_min": 40,
            "patient_id": str(patient.id),
            "title": "Interconsulta saúde mental",
            "participants": [{"professional_id": str(psicologa.id), "role": "teleconsultor"}],
        },
        headers=auth_header(client, medica),
    )
    body = await response.json()
    assert response.status == 201, body
    roles = {p["display_name"]: p["role"] for p in body["participants"]}
    assert roles == {"Dra. Helena": "solicitante", "Psic. Ju": "teleconsultor", "Maria": "paciente"}
    labels = {p["display_name"]: p["council_label"] for p in body["participants"]}
    assert labels["Psic. Ju"].startswith("CRP-04 ")
    mine = next(p for p in body["participants"] if p["display_name"] == "Dra. Helena")
    assert body["my_participant_id"] == mine["id"]
    assert body["nucleo_id"] == str(nucleo.id)
    async with sessions() as db:
        event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "create"))
    assert event is not None and event.patient_id == patient.id and event.ip


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"patient_id": None}, "", "patient_required"),
        ({"scheduled_for": "2030-01-01T10:00:00"}, "scheduled_for", "timezone_aware"),
        ({"scheduled_for": "2001-01-01T10:00:00Z"}, "scheduled_for", "scheduled_in_past"),
        ({"modality": "telepatia"}, "modality", "enum"),
        ({"expected_duration_min": "muito"}, "expected_duration_min", "int_parsing"),
        ({"surprise": 1}, "surprise", "extra_forbidden"),
        ({"patient_id": "00000000-0000-0000-0000-000000000000"}, "patient_id", "patient_not_found"),
    ],
)
async def test_invalid_creation_is_422_in_portuguese_and_writes_nothing(
    client: Client, sessions: Sessions, change: dict[str, Any], field: str, code: str
) -> None:
    async with sessions.begin() as db:
        medica = await make_professional(db, nucleo=await make_nucleo(db))
        patient = await make_patient(db)
    body: dict[str, Any] = {
        "modality": "teleconsulta",
        "scheduled_for": _at(1),
        "patient_id": str(patient.id),
    }
    body.update(change)
    before = await count_rows(sessions, Consultation), await count_rows(sessions, AuditEvent)
    response = await client.post(
        "/api/consultations", json=body, headers=auth_header(client, medica)
    )
    payload = await response.json()
    assert response.status == 422, payload
    assert payload["error"]["code"] == "invalid_payload"
    detail = payload["error"]["details"][0]
    assert (detail["field"], detail["code"]) == (field, code)
    assert detail["message"]
    after = await count_rows(sessions, Consultation), await count_rows(sessions, AuditEvent)
    assert after == before


async def test_an_oversized_body_is_a_413_json_error_and_writes_nothing(
    client: Client, sessions: Sessions
) -> None:
    async with sessions.begin() as db:
        medica = await make_professional(db)
    response = await client.post(
        "/api/consultations",
        data=b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={**auth_header(client, medica), "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"
    assert await count_rows(sessions, Consultation) == 0


async def test_listing_windows_today_upcoming_past(client: Client, sessions: Sessions) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as db:
        medica = await make_professional(db)
        past = await make_consultation(db, medica, scheduled_for=now - timedelta(days=3))
        soon = await make_consultation(db, medica, scheduled_for=now + timedelta(minutes=5))
        later = await make_consultation(db, medica, scheduled_for=now + timedelta(days=3))
    headers = auth_header(client, medica)

    async def ids(when: str) -> list[str]:
        response = await client.get(f"/api/consultations?when={when}", headers=headers)
        assert response.status == 200
        return [c["id"] for c in await response.json()]

    assert await ids("upcoming") == [str(soon.id), str(later.id)]
    assert await ids("past") == [str(past.id)]
    today = await ids("today")
    assert str(past.id) not in today and str(later.id) not in today
    bad = await client.get("/api/consultations?when=ontem", headers=headers)
    assert bad.status == 422


async def test_the_queue_holds_the_nucleos_consultations_without_a_teleconsultor(
    client: Client, sessions: Sessions
) -> None:
    async with sessions.begin() as db:
        nucleo = await make_nucleo(db)
        medica = await make_professional(db, nucleo=nucleo)
        regulador = await make_professional(db, nucleo=nucleo, is_regulador=True)
        waiting = await make_consultation(db, medica)
        taken = await make_consultation(db, medica)
        await add_professional(db, taken, regulador)
    response = await client.get(
        "/api/consultations?scope=queue", headers=auth_header(client, regulador)
    )
    assert [c["id"] for c in await response.json()] == [str(waiting.id)]


async def test_reschedule_and_cancel_change_status_and_are_audited(
    client: Client, sessions: Sessions
) -> None:
    async with sessions.begin() as db:
        medica = await make_professional(db)
        patient = await make_patient(db)
        consultation = await make_consultation(db, medica, patient=patient)
    headers = auth_header(client, medica)
    new_time = _at(30)
    moved = await client.post(
        f"/api/consultations/{consultation.id}/schedule",
        json={"scheduled_for": new_time, "expected_duration_min": 50},
        headers=headers,
    )
    assert moved.status == 200
    assert (await moved.json())["expected_duration_min"] == 50
    cancelled = await client.post(
        f"/api/consultations/{consultation.id}/cancel",
        json={"reason": "Paciente internado"},
        headers=headers,
    )
    assert (await cancelled.json())["status"] == ConsultationStatus.CANCELLED
    again = await client.post(
        f"/api/consultations/{consultation.id}/cancel", json={"reason": "de novo"}, headers=headers
    )
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "not_cancellable"
    async with sessions() as db:
        events = (
            await db.scalars(
                select(AuditEvent).where(AuditEvent.consultation_id == consultation.id)
            )
        ).all()
    assert {"schedule", "cancel"} <= {e.action for e in events}
    assert all(e.patient_id == patient.id for e in events)
    assert not any("internado" in (e.detail or "") for e in events)


async def test_add_and_remove_participants(client: Client, sessions: Sessions) -> None:
    async with sessions.begin() as db:
        medica = await make_professional(db)
        enfermeiro = await make_professional(db, council=Council.COREN)
        gestor = await make_professional(db, role=AccountRole.GESTOR)
        consultation = await make_consultation(db, medica)
    headers = auth_header(client, medica)
    url = f"/api/consultations/{consultation.id}/participants"
    added = await client.post(
        url, json={"role": "teleconsultor", "professional_id": str(enfermeiro.id)}, headers=headers
    )
    assert added.status == 201
    participant_id = (await added.json())["id"]
    duplicate = await client.post(
        url, json={"role": "regulador", "professional_id": str(enfermeiro.id)}, headers=headers
    )
    assert duplicate.status == 409
    no_council = await client.post(
        url, json={"role": "teleconsultor", "professional_id": str(gestor.id)}, headers=headers
    )
    assert no_council.status == 422
    guest = await client.post(url, json={"role": "interprete"}, headers=headers)
    assert guest.status == 422  # a guest needs a name
    removed = await client.delete(f"{url}/{participant_id}", headers=headers)
    assert removed.status == 204
    async with sessions() as db:
        row = await db.get(ConsultationParticipant, uuid.UUID(participant_id))
    assert row is not None and row.removed_at is not None
    # Removed, the enfermeiro no longer sees it.
    gone = await client.get(
        f"/api/consultations/{consultation.id}", headers=auth_header(client, enfermeiro)
    )
    assert gone.status == 404
