"""Patients' registry: validation writes nothing, every read and search is audited."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import AuditEvent, Patient
from tests.support.factories import (
    auth_header,
    count_rows,
    make_patient,
    make_professional,
    new_cpf,
)

Client = TestClient[Any, Any]
Sessions = async_sessionmaker[AsyncSession]


async def test_create_then_read_and_search_are_each_audited_with_the_patient(
    client: Client, sessions: Sessions
) -> None:
    async with sessions.begin() as db:
        medica = await make_professional(db)
    headers = auth_header(client, medica)
    cpf = new_cpf()
    created = await client.post(
        "/api/patients",
        json={"name": "Ana Beatriz Souza", "cpf": cpf, "birth_date": "1970-02-03", "uf": "mg"},
        headers=headers,
    )
    body = await created.json()
    assert created.status == 201, body
    assert body["uf"] == "MG"
    read = await client.get(f"/api/patients/{body['id']}", headers=headers)
    assert read.status == 200
    found = await client.get(
        f"/api/patients?q={cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}", headers=headers
    )
    assert [p["id"] for p in await found.json()] == [body["id"]]
    by_name = await client.get("/api/patients?q=beatriz", headers=headers)
    assert [p["id"] for p in await by_name.json()] == [body["id"]]
    async with sessions() as db:
        events = (await db.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert [e.action for e in events] == ["create", "read", "search", "search"]
    assert all(str(e.patient_id) == body["id"] and e.actor_id == str(medica.id) for e in events)
    assert all(cpf not in (e.detail or "") for e in events)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"cpf": "123.456.789-00"}, "cpf", "cpf_invalid"),
        ({"cpf": None, "cns": "300000000000003"}, "cns", "cns_invalid"),
        ({"cpf": None}, "", "identifier_required"),
        ({"birth_date": "3020-01-01"}, "", "birth_date_invalid"),
        ({"uf": "XX"}, "uf", "uf_invalid"),
        ({"name": 42}, "name", "string_type"),
        ({"nickname": "x"}, "nickname", "extra_forbidden"),
    ],
)
async def test_invalid_patient_is_422_with_a_portuguese_detail_and_nothing_written(
    client: Client, sessions: Sessions, body: dict[str, Any], field: str, code: str
) -> None:
    async with sessions.begin() as db:
        medica = await make_professional(db)
    payload = {"name": "Fulana", "cpf": new_cpf(), "birth_date": "1980-01-01", **body}
    response = await client.post("/api/patients", json=payload, headers=auth_header(client, medica))
    error = (await response.json())["error"]
    assert response.status == 422, error
    assert (error["details"][0]["field"], error["details"][0]["code"]) == (field, code)
    assert await count_rows(sessions, Patient) == 0
    assert await count_rows(sessions, AuditEvent) == 0


async def test_malformed_json_and_wrong_content_type_are_clear_4xx(
    client: Client, sessions: Sessions
) -> None:
    async with sessions.begin() as db:
        medica = await make_professional(db)
    headers = auth_header(client, medica)
    broken = await client.post(
        "/api/patients", data=b"{nome:", headers={**headers, "Content-Type": "application/json"}
    )
    assert broken.status == 400
    assert (await broken.json())["error"]["code"] == "invalid_json"
    form = await client.post(
        "/api/patients", data=b"a=1", headers={**headers, "Content-Type": "text/plain"}
    )
    assert form.status == 415
    assert await count_rows(sessions, Patient) == 0


async def test_duplicate_cpf_is_409(client: Client, sessions: Sessions) -> None:
    async with sessions.begin() as db:
        medica = await make_professional(db)
        existing = await make_patient(db)
    response = await client.post(
        "/api/patients",
        json={"name": "Outra", "cpf": existing.cpf, "birth_date": "1990-01-01"},
        headers=auth_header(client, medica),
    )
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "cpf_taken"
