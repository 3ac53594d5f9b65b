"""Invite links: issued once, summarised publicly, exchanged for a scoped session, revoked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import AuditEvent, Invite
from tests.support.factories import (
    auth_header,
    make_consultation,
    make_nucleo,
    make_patient,
    make_professional,
)

Client = TestClient[Any, Any]
Sessions = async_sessionmaker[AsyncSession]


async def _setup(sessions: Sessions) -> tuple[Any, Any, Any]:
    async with sessions.begin() as db:
        nucleo = await make_nucleo(db, name="Núcleo MG")
        medica = await make_professional(db, nucleo=nucleo, name="Dra. Helena")
        patient = await make_patient(db, name="Maria da Silva")
        consultation = await make_consultation(db, medica, patient=patient)
    return medica, patient, consultation


async def test_a_patient_invite_gives_a_url_once_and_a_session_scoped_to_the_consultation(
    client: Client, sessions: Sessions
) -> None:
    medica, patient, consultation = await _setup(sessions)
    issued = await client.post(
        f"/api/consultations/{consultation.id}/invites",
        json={"role": "paciente"},
        headers=auth_header(client, medica),
    )
    body = await issued.json()
    assert issued.status == 201, body
    token = body["token"]
    assert body["url"].endswith(f"/entrar/{token}")
    async with sessions() as db:
        stored = await db.scalar(select(Invite))
    assert stored is not None and token not in stored.token_sha256  # only the hash is kept
    listed = await client.get(
        f"/api/consultations/{consultation.id}/invites", headers=auth_header(client, medica)
    )
    assert "token" not in (await listed.json())[0]

    summary = await client.get(f"/api/invites/{token}")
    info = await summary.json()
    assert summary.status == 200, info
    assert info["display_name"] == "Maria da Silva"
    assert info["professionals"][0]["display_name"] == "Dra. Helena"
    assert info["nucleo_name"] == "Núcleo MG"

    session = await client.post(f"/api/invites/{token}/session")
    granted = await session.json()
    assert session.status == 200, granted
    assert granted["role"] == "paciente" and granted["consultation_id"] == str(consultation.id)
    headers = {"Authorization": f"Bearer {granted['access_token']}"}
    own = await client.get(f"/api/consultations/{consultation.id}", headers=headers)
    assert (await own.json())["my_participant_id"] == granted["participant_id"]
    me = await (await client.get("/api/me", headers=headers)).json()
    assert me["kind"] == "patient" and me["participant_id"] == granted["participant_id"]
    assert (await client.get(f"/api/patients/{patient.id}", headers=headers)).status == 200
    async with sessions() as db:
        actions = set((await db.scalars(select(AuditEvent.action))).all())
    assert {"issue_invite", "invite_session"} <= actions


async def test_a_guest_invite_needs_a_name_and_gives_a_guest_session(
    client: Client, sessions: Sessions
) -> None:
    medica, _, consultation = await _setup(sessions)
    url = f"/api/consultations/{consultation.id}/invites"
    nameless = await client.post(
        url, json={"role": "convidado"}, headers=auth_header(client, medica)
    )
    assert nameless.status == 422
    issued = await client.post(
        url, json={"role": "interprete", "display_name": "Intérprete de Libras"},
        headers=auth_header(client, medica),
    )  # fmt: skip
    token = (await issued.json())["token"]
    granted = await (await client.post(f"/api/invites/{token}/session")).json()
    me = await (
        await client.get("/api/me", headers={"Authorization": f"Bearer {granted['access_token']}"})
    ).json()
    assert me["kind"] == "guest" and me["display_name"] == "Intérprete de Libras"


async def test_revoked_and_expired_invites_are_410_in_portuguese_and_unknown_ones_404(
    client: Client, sessions: Sessions
) -> None:
    medica, _, consultation = await _setup(sessions)
    headers = auth_header(client, medica)
    url = f"/api/consultations/{consultation.id}/invites"
    first = await (await client.post(url, json={"role": "paciente"}, headers=headers)).json()
    second = await (
        await client.post(url, json={"role": "convidado", "display_name": "Filha"}, headers=headers)
    ).json()
    assert (await client.delete(f"/api/invites/{first['id']}", headers=headers)).status == 204
    revoked = await client.post(f"/api/invites/{first['token']}/session")
    assert revoked.status == 410
    assert (await revoked.json())["error"]["code"] == "invite_revoked"
    async with sessions.begin() as db:
        await db.execute(
            update(Invite)
            .where(Invite.id == uuid.UUID(second["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    expired = await client.get(f"/api/invites/{second['token']}")
    assert expired.status == 410
    error = (await expired.json())["error"]
    assert error["code"] == "invite_expired" and "expirou" in error["message"]
    unknown = await client.get("/api/invites/" + "x" * 43)
    assert unknown.status == 404


async def test_cancelling_the_consultation_closes_its_invites(
    client: Client, sessions: Sessions
) -> None:
    medica, _, consultation = await _setup(sessions)
    headers = auth_header(client, medica)
    issued = await (
        await client.post(
            f"/api/consultations/{consultation.id}/invites", json={"role": "paciente"},
            headers=headers,
        )
    ).json()  # fmt: skip
    await client.post(
        f"/api/consultations/{consultation.id}/cancel", json={"reason": "remarcar"}, headers=headers
    )
    assert (await client.post(f"/api/invites/{issued['token']}/session")).status == 410
