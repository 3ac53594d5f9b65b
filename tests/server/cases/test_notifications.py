"""Case notifications: in-app over Socket.IO in real time, and by e-mail through real SMTP."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.app import create_app
from server.keys import DB_SESSIONS
from tests.conftest import make_settings
from tests.server.cases.sockets import connect, until
from tests.server.cases.world import QUESTION, act, make_world, open_case
from tests.support.factories import TestClientT


class Sink:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append((list(envelope.rcpt_tos), mail))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
async def mail_client(
    db_url: str, tmp_path: Path, smtp: tuple[Sink, int], aiohttp_client: Any
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    settings = make_settings(
        db_url, tmp_path, smtp_host="127.0.0.1", smtp_port=smtp[1], smtp_from="noreply@ts.example"
    )
    yield await aiohttp_client(create_app(settings))


async def test_the_regulador_is_told_in_real_time_when_a_case_enters_the_queue(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    regulador = await connect(client, world.regulador)
    specialist = await connect(client, world.specialist)
    solicitante = await connect(client, world.solicitante)
    try:
        case = await open_case(client, world)
        await until(lambda: len(regulador.events) == 1)
        assert regulador.events[0] == {
            "event": "case_submitted",
            "case_id": case["id"],
            "status": "submitted",
            "message": "Novo caso na fila",
        }
        await act(
            client,
            world.regulador,
            case["id"],
            "assign",
            {"specialist_id": str(world.specialist.id)},
        )
        await until(lambda: [e["event"] for e in specialist.events] == ["case_assigned"])
        await until(lambda: [e["event"] for e in solicitante.events] == ["case_forwarded"])
        assert solicitante.events[0]["message"] == "Seu caso foi encaminhado a um especialista"
        assert solicitante.events[0]["status"] == "assigned"
    finally:
        await regulador.close()
        await specialist.close()
        await solicitante.close()


async def test_emails_go_out_through_smtp_in_ptbr_without_clinical_content(
    mail_client: TestClientT, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    world = await make_world(mail_client.app[DB_SESSIONS])
    case = await open_case(mail_client, world)
    await until(lambda: len(sink.mails) == 1)
    recipients, mail = sink.mails[0]
    assert recipients == ["regulador@example.org"]
    assert mail["Subject"] == "[Telessaúde] Novo caso na fila"
    body = mail.get_content()
    assert f"/casos/{case['id']}" in body
    assert "não contém dados clínicos" in body
    assert QUESTION not in body and "Cardiologia" not in body
    await act(
        mail_client,
        world.regulador,
        case["id"],
        "assign",
        {"specialist_id": str(world.specialist.id)},
    )
    await act(
        mail_client, world.specialist, case["id"], "answer", {"text": "Resposta do especialista."}
    )
    await until(lambda: len(sink.mails) == 3)
    # the solicitante is told of the assignment in-app only: no mail between these two
    assert [m[0] for m in sink.mails[1:]] == [
        ["especialista@example.org"],
        ["solicitante@example.org"],
    ]
