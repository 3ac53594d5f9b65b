"""The /cases Socket.IO namespace: committed-then-acked chat, idempotent retries, catch-up."""

from __future__ import annotations

import pytest
import socketio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cases.realtime import CASE_CHAT_WRITER, OVERLOADED_MESSAGE
from server.chat import ChatMessage
from tests.server.cases.sockets import connect, until
from tests.server.cases.world import make_world, open_case
from tests.support.factories import TestClientT, auth_header, count_rows


async def test_a_message_sent_on_the_socket_is_stored_acked_and_delivered_once(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    sender = await connect(client, world.solicitante)
    reader = await connect(client, world.regulador)
    try:
        for socket in (sender, reader):
            assert (await socket.call("subscribe", {"case_id": case["id"]}))["ok"] is True
        payload = {"case_id": case["id"], "client_msg_id": "s-1", "text": "Segue o laudo."}
        ack = await sender.call("send", payload)
        assert ack["ok"] is True and ack["created"] is True
        await until(lambda: len(reader.messages) == 1)
        assert reader.messages[0]["id"] == ack["message"]["id"]
        retry = await sender.call("send", payload)
        assert retry["created"] is False and retry["message"]["id"] == ack["message"]["id"]
        assert await count_rows(sessions, ChatMessage) == 1
        assert sender.messages == []  # the sender has its ack; no echo
        read = await reader.call("read", {"case_id": case["id"], "last_id": ack["message"]["id"]})
        assert read == {"ok": True, "last_read": ack["message"]["id"]}
        await until(lambda: len(sender.receipts) == 1)
    finally:
        await sender.close()
        await reader.close()
    assert len(reader.messages) == 1


async def test_a_reconnecting_client_gets_everything_after_the_last_id_it_saw(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    headers = auth_header(client, world.solicitante)
    ids = []
    for n in range(4):
        response = await client.post(
            f"/api/cases/{case['id']}/messages",
            json={"client_msg_id": f"r-{n}", "text": f"texto {n}"},
            headers=headers,
        )
        ids.append((await response.json())["message"]["id"])
    socket = await connect(client, world.regulador)
    try:
        ack = await socket.call("subscribe", {"case_id": case["id"], "after_id": ids[1]})
        assert [m["text"] for m in ack["messages"]] == ["texto 2", "texto 3"]
        await client.post(
            f"/api/cases/{case['id']}/messages",
            json={"client_msg_id": "r-live", "text": "ao vivo"},
            headers=headers,
        )
        await until(lambda: [m["text"] for m in socket.messages] == ["ao vivo"])
    finally:
        await socket.close()


async def test_bad_socket_input_gets_an_error_ack_in_ptbr_and_stores_nothing(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    stranger = await connect(client, world.outsider)
    member = await connect(client, world.solicitante)
    try:
        denied = await stranger.call(
            "send", {"case_id": case["id"], "client_msg_id": "x", "text": "oi"}
        )
        assert denied["error"] == {"code": "not_found", "message": "Caso não encontrado."}
        assert (await stranger.call("subscribe", {"case_id": case["id"]}))["ok"] is False
        empty = await member.call(
            "send", {"case_id": case["id"], "client_msg_id": "e", "text": " "}
        )
        assert empty["error"]["code"] == "invalid_chat_message"
        assert empty["error"]["message"] == "A mensagem está vazia."
        junk = await member.call("send", {"case_id": "nope", "text": "oi", "extra": 1})
        assert junk["ok"] is False and junk["error"]["code"] == "invalid_payload"
    finally:
        await stranger.close()
        await member.close()
    assert await count_rows(sessions, ChatMessage) == 0


async def test_a_socket_without_a_valid_token_is_refused(client: TestClientT) -> None:
    sio = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            f"http://{client.server.host}:{client.server.port}",
            namespaces=["/cases"],
            auth={"token": "forjado"},
            transports=["websocket"],
            wait_timeout=5,
        )
    await sio.disconnect()


async def test_an_overloaded_server_answers_a_send_at_once_and_the_same_id_goes_through_later(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    sender = await connect(client, world.solicitante)
    writer = client.app[CASE_CHAT_WRITER]
    payload = {"case_id": case["id"], "client_msg_id": "cheio-1", "text": "Segue o exame."}
    try:
        writer.max_pending = 0  # every send finds the queue over its bound
        refused = await sender.call("send", payload)
        assert refused["ok"] is False
        assert refused["error"] == {"code": "overloaded", "message": OVERLOADED_MESSAGE}
        assert "sobrecarregado" in refused["error"]["message"]
        assert await count_rows(sessions, ChatMessage) == 0
        writer.max_pending = 512
        retried = await sender.call("send", payload)  # the client's retry, same id
    finally:
        await sender.close()
    assert retried["ok"] is True and retried["created"] is True
    assert await count_rows(sessions, ChatMessage) == 1
