"""Queue deadlines over HTTP: the Núcleo's gestor sets them, never above 72 h in total."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cases.models import QueueDeadline
from tests.server.cases.world import make_world, open_case
from tests.support.factories import TestClientT, auth_header, count_rows


async def test_a_deadline_above_72_hours_is_refused_in_ptbr_and_nothing_is_stored(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    response = await client.put(
        f"/api/nucleos/{world.nucleo.id}/case-deadlines",
        json={"regulation_hours": 24, "specialist_hours": 49},
        headers=auth_header(client, world.gestor),
    )
    body = await response.json()
    assert response.status == 422
    assert body["error"]["code"] == "deadline_above_72h"
    assert "72 horas" in body["error"]["message"]
    assert await count_rows(sessions, QueueDeadline) == 0


async def test_new_cases_get_the_nucleo_deadlines_set_by_its_gestor(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    response = await client.put(
        f"/api/nucleos/{world.nucleo.id}/case-deadlines",
        json={"regulation_hours": 8, "specialist_hours": 40},
        headers=auth_header(client, world.gestor),
    )
    assert response.status == 200
    assert (await response.json())["total_hours"] == 48
    case = await open_case(client, world)
    received = datetime.fromisoformat(case["received_at"])
    assert (
        datetime.fromisoformat(case["regulation_due_at"]) - received
    ).total_seconds() == 8 * 3600
    assert (datetime.fromisoformat(case["answer_due_at"]) - received).total_seconds() == 48 * 3600


async def test_only_the_gestor_of_that_nucleo_sets_its_deadlines(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    for who in (world.regulador, world.outsider):
        response = await client.put(
            f"/api/nucleos/{world.nucleo.id}/case-deadlines",
            json={"regulation_hours": 8, "specialist_hours": 40},
            headers=auth_header(client, who),
        )
        assert response.status == 403
    assert await count_rows(sessions, QueueDeadline) == 0
