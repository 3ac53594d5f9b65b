"""Case messages sent at once share transactions, yet each is authorised and audited on its own."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cases.realtime import CASE_CHAT_WRITER
from server.chat import ChatMessage
from server.db.models import AuditEvent
from tests.server.cases.sockets import connect
from tests.server.cases.world import act, make_world, open_case
from tests.support.factories import TestClientT

MESSAGES = 40


async def test_concurrent_socket_sends_are_grouped_and_each_message_has_its_own_audit_event(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    sender = await connect(client, world.solicitante)
    intruder = await connect(client, world.outsider)
    writer = client.app[CASE_CHAT_WRITER]
    batches_before = writer.batches
    try:
        assert (await sender.call("subscribe", {"case_id": case["id"]}))["ok"] is True

        def send(socket_name: str, n: int) -> dict[str, object]:
            return {"case_id": case["id"], "client_msg_id": f"{socket_name}-{n}", "text": f"m{n}"}

        acks = await asyncio.gather(
            *(sender.call("send", send("s", n)) for n in range(MESSAGES)),
            *(intruder.call("send", send("x", n)) for n in range(5)),
        )
    finally:
        await sender.close()
        await intruder.close()
    mine, theirs = acks[:MESSAGES], acks[MESSAGES:]
    assert all(ack["ok"] is True and ack["created"] is True for ack in mine)
    assert all(ack["ok"] is False and ack["error"]["code"] == "not_found" for ack in theirs)
    assert writer.batches - batches_before < MESSAGES  # shared transactions
    message_ids = {str(ack["message"]["id"]) for ack in mine}
    async with sessions() as db:
        stored = (await db.scalars(select(ChatMessage.client_msg_id))).all()
        audits = (
            await db.execute(
                select(AuditEvent.resource_id, AuditEvent.actor_id, AuditEvent.action).where(
                    AuditEvent.resource_type == "case_message"
                )
            )
        ).all()
    assert sorted(stored) == sorted(f"s-{n}" for n in range(MESSAGES))  # nothing of the intruder
    creates = [a for a in audits if a.action == "create"]
    assert sorted(a.resource_id for a in creates) == sorted(message_ids)  # one each, no more
    assert {a.actor_id for a in creates} == {str(world.solicitante.id)}


async def test_a_message_to_a_closed_case_is_refused_while_the_rest_of_its_batch_is_stored(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    open_one = await open_case(client, world)
    closed_one = await open_case(client, world)
    await act(client, world.regulador, closed_one["id"], "refuse", {"reason": "Fora do escopo."})
    sender = await connect(client, world.solicitante)
    try:
        acks = await asyncio.gather(
            *(
                sender.call(
                    "send",
                    {"case_id": case["id"], "client_msg_id": f"{i}", "text": "Mais um dado."},
                )
                for i, case in enumerate([open_one, closed_one, open_one])
            )
        )
    finally:
        await sender.close()
    assert [a["ok"] for a in acks] == [True, False, True]
    assert acks[1]["error"]["code"] == "case_closed"
    async with sessions() as db:
        stored = (await db.scalars(select(ChatMessage.client_msg_id))).all()
    assert sorted(stored) == ["0", "2"]
