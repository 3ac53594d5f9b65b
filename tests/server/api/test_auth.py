"""Login, refresh rotation, logout and /api/me over real HTTP on both databases."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import AuditEvent, Professional
from tests.support.factories import PASSWORD, login, make_nucleo, make_professional

Client = TestClient[Any, Any]
Sessions = async_sessionmaker[AsyncSession]


async def _account(sessions: Sessions) -> Professional:
    async with sessions.begin() as db:
        nucleo = await make_nucleo(db)
        return await make_professional(db, nucleo=nucleo, name="Dra. Ana")


async def test_login_returns_tokens_and_the_user_and_is_audited(
    client: Client, sessions: Sessions
) -> None:
    pro = await _account(sessions)
    masked = f"{pro.cpf[:3]}.{pro.cpf[3:6]}.{pro.cpf[6:9]}-{pro.cpf[9:]}"
    body = await login(client, masked)
    assert body["user"]["id"] == str(pro.id)
    assert body["user"]["council_label"].startswith("CRM-MG ")
    assert body["expires_in"] == 15 * 60
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status == 200
    assert (await me.json())["user"]["name"] == "Dra. Ana"
    async with sessions() as db:
        actions = (await db.scalars(select(AuditEvent.action))).all()
    assert "login" in actions


async def test_wrong_password_is_401_in_portuguese_and_audited_without_the_cpf(
    client: Client, sessions: Sessions
) -> None:
    pro = await _account(sessions)
    response = await client.post("/api/auth/login", json={"cpf": pro.cpf, "password": "errada"})
    assert response.status == 401
    error = (await response.json())["error"]
    assert error["code"] == "invalid_credentials"
    assert error["message"] == "CPF ou senha incorretos."
    async with sessions() as db:
        event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "login_failed"))
    assert event is not None and event.outcome == "denied"
    assert pro.cpf not in (event.actor_id or "")
    assert "errada" not in (event.detail or "")


async def test_invalid_cpf_check_digit_is_422_with_a_field_detail(client: Client) -> None:
    response = await client.post("/api/auth/login", json={"cpf": "111.111.111-11", "password": "x"})
    assert response.status == 422
    detail = (await response.json())["error"]["details"][0]
    assert detail["field"] == "cpf"
    assert detail["code"] == "cpf_invalid"
    assert "CPF inválido" in detail["message"]


async def test_login_is_rate_limited_per_cpf_with_429(client: Client, sessions: Sessions) -> None:
    pro = await _account(sessions)
    statuses = []
    for _ in range(11):  # the default limit is 10 per minute
        response = await client.post("/api/auth/login", json={"cpf": pro.cpf, "password": "x"})
        statuses.append(response.status)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    last = await client.post("/api/auth/login", json={"cpf": pro.cpf, "password": PASSWORD})
    assert last.status == 429
    assert "Aguarde" in (await last.json())["error"]["message"]


async def test_refresh_rotates_and_reusing_a_rotated_token_revokes_the_family(
    client: Client, sessions: Sessions
) -> None:
    pro = await _account(sessions)
    first = await login(client, pro.cpf)
    rotated = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status == 200
    second = await rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    replay = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status == 401
    assert (await replay.json())["error"]["code"] == "refresh_reused"
    # The reuse revoked the newest token too.
    after = await client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status == 401


async def test_logout_revokes_the_refresh_token(client: Client, sessions: Sessions) -> None:
    pro = await _account(sessions)
    session = await login(client, pro.cpf)
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    out = await client.post(
        "/api/auth/logout", json={"refresh_token": session["refresh_token"]}, headers=headers
    )
    assert out.status == 204
    again = await client.post("/api/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert again.status == 401


async def test_forged_or_missing_tokens_are_401(client: Client) -> None:
    assert (await client.get("/api/me")).status == 401
    forged = await client.get("/api/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status == 401
    assert (await forged.json())["error"]["code"] == "unauthorized"
