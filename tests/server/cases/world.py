"""A Núcleo with its people for case tests: solicitante at a linked Ponto, regulador, specialist."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import AccountRole, Nucleo, Patient, Ponto, Professional
from tests.support.factories import (
    TestClientT,
    auth_header,
    make_nucleo,
    make_patient,
    make_ponto,
    make_professional,
)


@dataclass
class World:
    nucleo: Nucleo
    ponto: Ponto
    solicitante: Professional
    regulador: Professional
    specialist: Professional
    other_specialist: Professional
    gestor: Professional
    outsider: Professional
    patient: Patient


async def make_world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with sessions.begin() as db:
        nucleo = await make_nucleo(db)
        ponto = await make_ponto(db, nucleo)
        other_nucleo = await make_nucleo(db)
        world = World(
            nucleo=nucleo,
            ponto=ponto,
            solicitante=await make_professional(
                db, ponto=ponto, name="Dra. Solicitante", email="solicitante@example.org"
            ),
            regulador=await make_professional(
                db, nucleo=nucleo, is_regulador=True, email="regulador@example.org"
            ),
            specialist=await make_professional(db, nucleo=nucleo, email="especialista@example.org"),
            other_specialist=await make_professional(db, nucleo=nucleo),
            gestor=await make_professional(db, role=AccountRole.GESTOR, nucleo=nucleo),
            outsider=await make_professional(db, nucleo=other_nucleo, is_regulador=True),
            patient=await make_patient(db),
        )
    return world


QUESTION = "Paciente com HAS de difícil controle em uso de três fármacos; como investigar?"


async def open_case(client: TestClientT, world: World, **fields: Any) -> dict[str, Any]:
    body = {
        "nucleo_id": str(world.nucleo.id),
        "specialty": "Cardiologia",
        "question": QUESTION,
        **fields,
    }
    response = await client.post(
        "/api/cases", json=body, headers=auth_header(client, world.solicitante)
    )
    payload: dict[str, Any] = await response.json()
    assert response.status == 201, payload
    return payload


async def act(
    client: TestClientT,
    who: Professional,
    case_id: str | uuid.UUID,
    action: str,
    body: dict[str, Any] | None = None,
    status: int = 200,
) -> dict[str, Any]:
    response = await client.post(
        f"/api/cases/{case_id}/{action}", json=body or {}, headers=auth_header(client, who)
    )
    payload: dict[str, Any] = await response.json()
    assert response.status == status, payload
    return payload


async def answered_case(client: TestClientT, world: World, **fields: Any) -> dict[str, Any]:
    case = await open_case(client, world, **fields)
    await act(
        client, world.regulador, case["id"], "assign", {"specialist_id": str(world.specialist.id)}
    )
    return await act(
        client,
        world.specialist,
        case["id"],
        "answer",
        {"text": "Investigar hiperaldosteronismo primário."},
    )
