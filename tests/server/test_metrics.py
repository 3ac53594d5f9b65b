"""GET /metrics: Prometheus text with media, sockets, chat, cases and process figures."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import chat as chat_store
from server.chat import ChatAuthor, consultation_channel


def value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported:\n{text}")


async def test_metrics_exports_rooms_media_sockets_chat_cases_and_cpu(
    client: TestClient,  # type: ignore[type-arg]
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert value(text, "telessaude_rooms") == 0
    assert value(text, "telessaude_participants") == 0
    assert value(text, "telessaude_media_forwarded_packets") == 0
    assert value(text, "telessaude_media_received_in_c") == 0
    assert value(text, "telessaude_media_packets_lost") == 0
    assert value(text, "telessaude_media_nacks_received") == 0
    assert value(text, "telessaude_sockets") == 0
    assert value(text, "telessaude_cases_overdue") == 0
    assert value(text, "process_cpu_seconds_total") > 0
    before = value(text, "telessaude_chat_messages_total")

    async with sessions.begin() as db:
        author = ChatAuthor("professional", str(uuid.uuid4()), "Dra. Ana")
        await chat_store.append(db, consultation_channel(uuid.uuid4()), author, "m-1", "olá")
    text = await (await client.get("/metrics")).text()
    assert value(text, "telessaude_chat_messages_total") == before + 1
    assert "olá" not in text
