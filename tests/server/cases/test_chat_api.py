"""Case chat over REST: committed before the answer, idempotent, paginated, read receipts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.chat import ChatMessage
from server.db.models import AuditEvent, Professional
from tests.server.cases.world import act, make_world, open_case
from tests.support.factories import TestClientT, auth_header, count_rows


async def send(
    client: TestClientT, who: Professional, case_id: str, client_msg_id: str, text: str
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        f"/api/cases/{case_id}/messages",
        json={"client_msg_id": client_msg_id, "text": text},
        headers=auth_header(client, who),
    )
    return response.status, await response.json()


async def test_a_retried_message_is_stored_once_and_the_retry_gets_the_same_message(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    status, first = await send(client, world.solicitante, case["id"], "m-1", "Segue o ECG.")
    assert status == 201 and first["created"] is True
    status, again = await send(client, world.solicitante, case["id"], "m-1", "Segue o ECG.")
    assert status == 200 and again["created"] is False
    assert again["message"]["id"] == first["message"]["id"]
    assert await count_rows(sessions, ChatMessage) == 1


async def test_history_pages_forward_from_the_last_id_seen(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    await act(
        client, world.regulador, case["id"], "assign", {"specialist_id": str(world.specialist.id)}
    )
    for n in range(5):
        who = world.solicitante if n % 2 == 0 else world.specialist
        await send(client, who, case["id"], f"c-{n}", f"mensagem {n}")
    headers = auth_header(client, world.specialist)
    page = await (
        await client.get(f"/api/cases/{case['id']}/messages?limit=2", headers=headers)
    ).json()
    assert [m["text"] for m in page["items"]] == ["mensagem 0", "mensagem 1"]
    after = page["next_after_id"]
    rest = await (
        await client.get(
            f"/api/cases/{case['id']}/messages?after_id={after}&limit=10", headers=headers
        )
    ).json()
    assert [m["text"] for m in rest["items"]] == ["mensagem 2", "mensagem 3", "mensagem 4"]
    assert rest["next_after_id"] is None
    assert rest["items"][1]["author"]["id"] == str(world.specialist.id)


async def test_an_empty_message_is_refused_with_a_ptbr_error_and_nothing_stored(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    status, body = await send(client, world.solicitante, case["id"], "empty", "   ")
    assert status == 422
    assert body["error"]["code"] == "invalid_chat_message"
    assert body["error"]["message"] == "A mensagem está vazia."
    assert await count_rows(sessions, ChatMessage) == 0


async def test_someone_who_does_not_take_part_cannot_write_or_read_the_case_chat(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    for stranger in (world.outsider, world.other_specialist, world.gestor):
        status, body = await send(client, stranger, case["id"], "x-1", "Olá")
        assert status == 404, body
        assert body["error"]["message"] == "Caso não encontrado."
        listed = await client.get(
            f"/api/cases/{case['id']}/messages", headers=auth_header(client, stranger)
        )
        assert listed.status == 404
    assert await count_rows(sessions, ChatMessage) == 0


async def test_a_closed_case_accepts_no_new_messages(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    await act(client, world.regulador, case["id"], "refuse", {"reason": "Fora do escopo"})
    status, body = await send(client, world.solicitante, case["id"], "late", "Mas e agora?")
    assert status == 409 and body["error"]["code"] == "case_closed"


async def test_read_receipts_only_move_forward_and_every_chat_write_is_audited(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    audits_before = await count_rows(sessions, AuditEvent)
    _, sent = await send(client, world.solicitante, case["id"], "r-1", "Primeira")
    _, second = await send(client, world.solicitante, case["id"], "r-2", "Segunda")
    headers = auth_header(client, world.regulador)
    url = f"/api/cases/{case['id']}/read"
    assert (
        await (
            await client.post(url, json={"last_id": second["message"]["id"]}, headers=headers)
        ).json()
    )["last_read"] == second["message"]["id"]
    stale = await (
        await client.post(url, json={"last_id": sent["message"]["id"]}, headers=headers)
    ).json()
    assert stale["last_read"] == second["message"]["id"]
    receipts = await (await client.get(f"/api/cases/{case['id']}/receipts", headers=headers)).json()
    assert receipts["items"] == [
        {
            "reader_kind": "professional",
            "reader_id": str(world.regulador.id),
            "last_read": second["message"]["id"],
        }
    ]
    assert await count_rows(sessions, AuditEvent) >= audits_before + 2
