"""The case chat writer decides on the case as it is when the message is written, and audits it.

On PostgreSQL the writer keeps the facts of the cases it has seen and writes a batch in one
statement that checks them; these tests change a case between two messages, so a stale fact
would show (the same tests run on SQLite, where each batch reads its cases afresh).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.chat import ChatMessage
from server.db.models import AuditEvent, Professional
from tests.server.cases.world import act, make_world, open_case
from tests.support.factories import TestClientT, auth_header


async def post_message(
    client: TestClientT, who: Professional, case_id: str, client_msg_id: str
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        f"/api/cases/{case_id}/messages",
        json={"client_msg_id": client_msg_id, "text": f"Mensagem {client_msg_id}."},
        headers=auth_header(client, who),
    )
    body: dict[str, Any] = await response.json()
    return response.status, body


async def stored_ids(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as db:
        rows = await db.scalars(select(ChatMessage.client_msg_id).order_by(ChatMessage.id))
        return list(rows.all())


async def test_a_case_closed_after_a_message_takes_no_more_and_the_refusal_is_in_ptbr(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    status, _ = await post_message(client, world.solicitante, case["id"], "antes")
    assert status == 201  # the writer has now read this case
    await act(client, world.regulador, case["id"], "refuse", {"reason": "Fora do escopo."})
    status, body = await post_message(client, world.solicitante, case["id"], "depois")
    assert status == 409, body
    assert body["error"]["code"] == "case_closed"
    assert "encerrado" in body["error"]["message"]
    assert await stored_ids(sessions) == ["antes"]


async def test_a_specialist_assigned_after_being_refused_can_write_at_once(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    status, body = await post_message(client, world.specialist, case["id"], "cedo")
    assert status == 404, body  # not (yet) part of the case
    await act(client, world.regulador, case["id"], "claim")
    specialist = {"specialist_id": str(world.specialist.id)}
    await act(client, world.regulador, case["id"], "assign", specialist)
    status, body = await post_message(client, world.specialist, case["id"], "agora")
    assert status == 201, body
    other = {"specialist_id": str(world.other_specialist.id)}
    await act(client, world.regulador, case["id"], "assign", other)
    status, body = await post_message(client, world.specialist, case["id"], "removido")
    assert status == 404, body  # reassigned: the first specialist is out at once
    assert await stored_ids(sessions) == ["agora"]


async def test_each_new_message_has_an_audit_event_with_its_author_time_and_address(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    acks = [await post_message(client, world.solicitante, case["id"], f"m{n}") for n in range(3)]
    status, retry = await post_message(client, world.solicitante, case["id"], "m1")
    assert status == 200 and retry["created"] is False  # a retry is not a second write
    async with sessions() as db:
        events = (
            await db.scalars(
                select(AuditEvent)
                .where(AuditEvent.resource_type == "case_message", AuditEvent.action == "create")
                .order_by(AuditEvent.id)
            )
        ).all()
    messages = [body["message"] for _, body in acks]
    assert [e.resource_id for e in events] == [str(m["id"]) for m in messages]
    for event, message in zip(events, messages, strict=True):
        assert event.actor_kind == "professional"
        assert event.actor_id == str(world.solicitante.id)
        assert event.at.isoformat() == message["created_at"]
        assert event.ip == "127.0.0.1"
        assert event.nucleo_id == world.nucleo.id
        assert event.outcome == "success"
        assert event.detail == f"case {case['id']}"  # where; never the text
