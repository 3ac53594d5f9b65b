"""Chat survives a killed server and an unavailable database without losing or duplicating.

The server runs as a real process on PostgreSQL and is SIGKILLed while clients send; clients
retry with the same client_msg_id until acknowledged, as the web client does.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from server.auth.tokens import TokenService
from server.chat import ChatMessage
from server.db.engine import make_sessions
from server.db.metadata import metadata
from server.db.models import Professional
from tests.conftest import TEST_JWT_SECRET, make_settings
from tests.server.cases.clusters import AppProcess, stoppable_cluster
from tests.server.cases.world import QUESTION, World, make_world
from tests.support.databases import PostgresTemplate
from tests.support.factories import token_for

TOKENS = TokenService(TEST_JWT_SECRET, 3600, 3600)
MESSAGES_PER_CLIENT = 40


def headers(who: Professional) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(TOKENS, who)}"}


async def open_case_over(http: aiohttp.ClientSession, base: str, world: World) -> str:
    async with http.post(
        f"{base}/api/cases",
        json={"nucleo_id": str(world.nucleo.id), "specialty": "Clínica", "question": QUESTION},
        headers=headers(world.solicitante),
    ) as response:
        assert response.status == 201
        return str((await response.json())["id"])


async def send_until_acked(
    http: aiohttp.ClientSession, app: AppProcess, case_id: str, who: Professional, msg_id: str
) -> int:
    """Retry the same client_msg_id through crashes and 503s; return the acked message id."""
    for _ in range(600):
        try:
            async with http.post(
                f"{app.url}/api/cases/{case_id}/messages",
                json={"client_msg_id": msg_id, "text": f"mensagem {msg_id}"},
                headers=headers(who),
                timeout=aiohttp.ClientTimeout(total=5),
            ) as response:
                if response.status in (200, 201):
                    return int((await response.json())["message"]["id"])
                assert response.status == 503, await response.text()
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{msg_id} never acknowledged")


async def test_killing_the_server_mid_stream_loses_no_acked_message_and_retries_never_duplicate(
    postgres_template: PostgresTemplate, tmp_path: Path
) -> None:
    url = await postgres_template.fresh()
    engine = create_async_engine(url)
    sessions: async_sessionmaker[AsyncSession] = make_sessions(engine)
    world = await make_world(sessions)
    app = AppProcess(url, tmp_path)
    await app.start()
    acked: dict[str, int] = {}
    enough = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as http:
            case_id = await open_case_over(http, app.url, world)

            async def client(name: str) -> None:
                for n in range(MESSAGES_PER_CLIENT):
                    msg_id = f"{name}-{n}"
                    acked[msg_id] = await send_until_acked(
                        http, app, case_id, world.solicitante, msg_id
                    )
                    if len(acked) >= 30:
                        enough.set()

            senders = [asyncio.create_task(client(f"c{i}")) for i in range(4)]
            await asyncio.wait_for(enough.wait(), 30)
            app.kill()
            killed_after = len(acked)
            await asyncio.sleep(0.3)
            await app.start()
            await asyncio.gather(*senders)
    finally:
        app.stop()
    assert killed_after < 4 * MESSAGES_PER_CLIENT  # the kill really happened mid-stream
    async with sessions() as db:
        rows = (await db.execute(select(ChatMessage.id, ChatMessage.client_msg_id))).all()
    await engine.dispose()
    stored = {client_msg_id: message_id for message_id, client_msg_id in rows}
    assert Counter(client_msg_id for _, client_msg_id in rows).most_common(1)[0][1] == 1
    assert len(rows) == 4 * MESSAGES_PER_CLIENT
    assert stored == acked  # every ack names the row that is really there


async def test_with_the_database_down_the_sender_gets_a_503_in_ptbr_and_no_ack_is_lost(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    from server.app import create_app

    with stoppable_cluster() as cluster:
        engine = create_async_engine(cluster.url)
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        sessions = make_sessions(engine)
        world = await make_world(sessions)
        client = await aiohttp_client(create_app(make_settings(cluster.url, tmp_path)))
        async with aiohttp.ClientSession() as http:
            base = str(client.make_url("")).rstrip("/")
            case_id = await open_case_over(http, base, world)

            async def send(msg_id: str) -> tuple[int, dict[str, Any]]:
                async with http.post(
                    f"{base}/api/cases/{case_id}/messages",
                    json={"client_msg_id": msg_id, "text": "texto"},
                    headers=headers(world.solicitante),
                ) as response:
                    return response.status, await response.json()

            status, first = await send("before")
            assert status == 201
            cluster.stop()
            status, body = await send("during")
            assert status == 503, body
            assert body["error"]["code"] == "db_unavailable"
            assert "tente novamente" in body["error"]["message"]
            cluster.start()
            retried: dict[str, Any] = {}
            for _ in range(50):  # the pool reconnects on the next checkout
                status, retried = await send("during")
                if status == 201:
                    break
                await asyncio.sleep(0.1)
            assert status == 201, retried
        await client.close()
        await engine.dispose()  # the test's own pooled connections died with the server
        async with sessions() as db:
            texts = (
                await db.scalars(select(ChatMessage.client_msg_id).order_by(ChatMessage.id))
            ).all()
        await engine.dispose()
    assert list(texts) == ["before", "during"]
    assert first["message"]["id"] < retried["message"]["id"]
    assert uuid.UUID(case_id)
