"""Demo data: valid identifiers, idempotent seeding, working demo logins."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import Consultation, Nucleo, Patient, Ponto, Professional
from server.demo import DEMO_PASSWORD, seed_demo
from server.identifiers import normalize_cns, normalize_cpf
from tests.support.factories import login

Client = TestClient[Any, Any]
Sessions = async_sessionmaker[AsyncSession]


async def _counts(sessions: Sessions) -> tuple[int, ...]:
    counts = []
    async with sessions() as db:
        for model in (Nucleo, Ponto, Professional, Patient, Consultation):
            counts.append(int(await db.scalar(select(func.count()).select_from(model)) or 0))
    return tuple(counts)


async def test_seeding_twice_creates_everything_once_with_valid_identifiers(
    client: Client, sessions: Sessions
) -> None:
    async with sessions.begin() as db:
        logins = await seed_demo(db)
    first = await _counts(sessions)
    async with sessions.begin() as db:
        await seed_demo(db)
    assert await _counts(sessions) == first == (1, 2, 4, 2, 2)
    async with sessions() as db:
        pros = (await db.scalars(select(Professional))).all()
        patients = (await db.scalars(select(Patient))).all()
        pontos = (await db.scalars(select(Ponto))).all()
    assert all(normalize_cpf(p.cpf) for p in pros)
    assert all(normalize_cpf(p.cpf or "") and normalize_cns(p.cns or "") for p in patients)
    assert {p.establishment_type for p in pontos} == {"02", "70"}
    assert len({p.council for p in pros if p.council}) == 3
    for demo in logins:
        session = await login(client, demo.cpf, DEMO_PASSWORD)
        assert session["user"]["name"] == demo.name
