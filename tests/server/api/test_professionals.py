"""Registering professionals: council enumeration with UF or region, gestor's own Núcleo."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import AccountRole, Professional
from tests.support.factories import (
    auth_header,
    count_rows,
    login,
    make_nucleo,
    make_ponto,
    make_professional,
    new_cpf,
)

Client = TestClient[Any, Any]
Sessions = async_sessionmaker[AsyncSession]


def _psicologa(**change: Any) -> dict[str, Any]:
    return {
        "name": "Psic. Juliana Costa",
        "cpf": new_cpf(),
        "role": "profissional",
        "council": "CRP",
        "council_number": "12345",
        "council_uf": "4",
        "category": "psicóloga",
        "cbo": "2515-10",
        "password": "uma-senha-boa",
        **change,
    }


async def test_a_gestor_registers_a_professional_who_can_then_log_in(
    client: Client, sessions: Sessions
) -> None:
    async with sessions.begin() as db:
        nucleo = await make_nucleo(db)
        ponto = await make_ponto(db, nucleo)
        gestor = await make_professional(db, role=AccountRole.GESTOR, nucleo=nucleo)
    body = _psicologa(ponto_id=str(ponto.id))
    response = await client.post(
        "/api/professionals", json=body, headers=auth_header(client, gestor)
    )
    created = await response.json()
    assert response.status == 201, created
    assert created["council_label"] == "CRP-04 12345"
    assert created["cbo"] == "251510" and created["nucleo_id"] == str(nucleo.id)
    assert "cpf" not in created and "password_hash" not in created
    session = await login(client, body["cpf"], "uma-senha-boa")
    assert session["user"]["id"] == created["id"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"council": "CRX"}, "enum"),
        ({"council": "CRM", "council_uf": "04"}, "council_uf_invalid"),
        ({"council_uf": "30"}, "council_uf_invalid"),
        ({"council": None}, "council_required"),
        ({"cbo": "12345"}, "cbo_invalid"),
        ({"cpf": "000.000.000-00"}, "cpf_invalid"),
        ({"council_number": "12.3"}, "council_number_invalid"),
        ({"role": "paciente"}, "role_invalid"),
        ({"password": "curta"}, "string_too_short"),
    ],
)
async def test_invalid_registration_is_422_and_writes_nothing(
    client: Client, sessions: Sessions, change: dict[str, Any], code: str
) -> None:
    async with sessions.begin() as db:
        gestor = await make_professional(db, role=AccountRole.GESTOR, nucleo=await make_nucleo(db))
    before = await count_rows(sessions, Professional)
    response = await client.post(
        "/api/professionals", json=_psicologa(**change), headers=auth_header(client, gestor)
    )
    error = (await response.json())["error"]
    assert response.status == 422, error
    assert error["details"][0]["code"] == code
    assert error["details"][0]["message"]
    assert await count_rows(sessions, Professional) == before


async def test_a_gestor_cannot_register_into_another_nucleo(
    client: Client, sessions: Sessions
) -> None:
    async with sessions.begin() as db:
        own = await make_nucleo(db)
        other = await make_nucleo(db)
        gestor = await make_professional(db, role=AccountRole.GESTOR, nucleo=own)
    response = await client.post(
        "/api/professionals",
        json=_psicologa(nucleo_id=str(other.id)),
        headers=auth_header(client, gestor),
    )
    assert response.status == 403
    pontos = await client.post(
        "/api/pontos",
        json={"name": "UBS X", "cnes": "1234567", "establishment_type": "02", "uf": "MG",
              "municipality": "Betim", "nucleo_ids": [str(other.id)]},
        headers=auth_header(client, gestor),
    )  # fmt: skip
    assert pontos.status == 403
