"""SOF library: built from an answered case by its specialist, de-identified, searchable."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.sof.deidentify import REDACTED
from server.sof.models import Sof
from tests.server.cases.world import answered_case, make_world, open_case
from tests.support.factories import TestClientT, auth_header, count_rows, new_cpf

SOF: dict[str, Any] = {
    "title": "Investigação de hipertensão resistente na APS",
    "question": "Como investigar hipertensão resistente em adulto na atenção primária?",
    "answer": "Confirmar adesão e MAPA; rastrear hiperaldosteronismo (aldosterona/renina).",
    "references": ["Diretrizes Brasileiras de Hipertensão Arterial – 2020. Arq Bras Cardiol."],
    "tags": ["Hipertensão", "aldosterona"],
    "ciap2": ["k86"],
}


async def test_the_specialist_publishes_a_deidentified_sof_that_every_professional_finds(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await answered_case(client, world)
    body = {**SOF, "question": f"Paciente CPF {new_cpf()}: como investigar hipertensão resistente?"}
    response = await client.post(
        f"/api/cases/{case['id']}/sof", json=body, headers=auth_header(client, world.specialist)
    )
    draft = await response.json()
    assert response.status == 201, draft
    assert draft["status"] == "draft" and REDACTED in draft["question"]
    assert draft["ciap2"] == ["K86"] and draft["tags"] == ["aldosterona", "hipertensão"]
    assert "patient_id" not in draft
    search = await client.get("/api/sof?q=resistente", headers=auth_header(client, world.outsider))
    assert (await search.json())["items"] == []
    published = await client.post(
        f"/api/sof/{draft['id']}/publish", headers=auth_header(client, world.specialist)
    )
    assert published.status == 200
    for query in ("q=RESISTENTE", "tag=aldosterona", "ciap2=K86"):
        found = await client.get(f"/api/sof?{query}", headers=auth_header(client, world.outsider))
        assert [s["id"] for s in (await found.json())["items"]] == [draft["id"]], query
    missing = await client.get("/api/sof?ciap2=T90", headers=auth_header(client, world.outsider))
    assert (await missing.json())["items"] == []
    full = await client.get(f"/api/sof/{draft['id']}", headers=auth_header(client, world.outsider))
    assert (await full.json())["references"] == SOF["references"]


async def test_a_sof_needs_an_answered_case_its_specialist_and_a_reference(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    unanswered = await open_case(client, world)
    response = await client.post(
        f"/api/cases/{unanswered['id']}/sof", json=SOF, headers=auth_header(client, world.regulador)
    )
    assert response.status == 403
    answered = await answered_case(client, world)
    no_refs = await client.post(
        f"/api/cases/{answered['id']}/sof",
        json={**SOF, "references": []},
        headers=auth_header(client, world.specialist),
    )
    assert no_refs.status == 422
    bad_code = await client.post(
        f"/api/cases/{answered['id']}/sof",
        json={**SOF, "ciap2": ["Q99"]},
        headers=auth_header(client, world.specialist),
    )
    assert bad_code.status == 422
    assert (await bad_code.json())["error"]["code"] == "ciap2_format"
    assert await count_rows(sessions, Sof) == 0
