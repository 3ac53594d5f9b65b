"""Direct WebSocket writes: one frame for a whole room, the library's path for everyone else."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import socketio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cases.realtime import CASE_FANOUT
from server.chat.fanout import websocket_text_frame
from server.db.models import Professional
from server.keys import SIO, TOKENS
from tests.server.cases.sockets import connect, until
from tests.server.cases.world import make_world, open_case
from tests.support.factories import TestClientT, token_for

NS = "/cases"


class RawSocket:
    """A /cases client on a bare WebSocket that keeps every text frame it receives, as sent."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[str] = []
        self.reader = asyncio.create_task(self._read())
        self.acks: dict[int, asyncio.Future[Any]] = {}

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, client: TestClientT, who: Professional) -> Any:
        url = f"ws://{client.server.host}:{client.server.port}/socket.io/?EIO=4&transport=websocket"
        ws = await http.ws_connect(url)
        assert (await ws.receive_str()).startswith("0")  # engine.io open
        await ws.send_str(f"40{NS}," + json.dumps({"token": token_for(client.app[TOKENS], who)}))
        assert (await ws.receive_str()).startswith(f"40{NS},")  # namespace connected
        return cls(ws)

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                break
            text: str = frame.data
            if text == "2":
                await self.ws.send_str("3")
            elif text.startswith(f"43{NS},"):
                body = text[len(f"43{NS},") :]
                ack_id = int(body[: body.index("[")])
                self.acks.pop(ack_id).set_result(json.loads(body[body.index("[") :])[0])
            else:
                self.frames.append(text)

    async def call(self, ack_id: int, event: str, data: dict[str, Any]) -> Any:
        self.acks[ack_id] = asyncio.get_running_loop().create_future()
        await self.ws.send_str(f"42{NS},{ack_id}" + json.dumps([event, data]))
        return await asyncio.wait_for(self.acks[ack_id], 10)

    def messages(self) -> list[str]:
        return [f for f in self.frames if f.startswith(f'42{NS},["message",')]

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def test_a_broadcast_is_one_frame_identical_for_every_recipient_and_written_directly(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    fanout = client.app[CASE_FANOUT]
    async with aiohttp.ClientSession() as http:
        people = [world.regulador, world.solicitante, world.regulador]
        readers = [await RawSocket.open(http, client, who) for who in people]
        sender = await RawSocket.open(http, client, world.solicitante)
        try:
            for n, socket in enumerate([*readers, sender]):
                assert (await socket.call(n, "subscribe", {"case_id": case["id"]}))["ok"]
            direct_before = fanout.direct
            ack = await sender.call(
                9, "send", {"case_id": case["id"], "client_msg_id": "f-1", "text": "Olá, equipe."}
            )
            assert ack["ok"] is True
            await until(lambda: all(r.messages() for r in readers))
        finally:
            for socket in [*readers, sender]:
                await socket.close()
    frames = [r.messages() for r in readers]
    assert all(len(f) == 1 for f in frames)
    assert frames[0] == frames[1] == frames[2]  # byte for byte the same event
    event, body = json.loads(frames[0][0][len(f"42{NS},") :])
    assert event == "message" and body == ack["message"]
    assert sender.messages() == []  # the sender has its ack, no echo
    # Three deliveries and the ack, each one write of its own frame, no engine.io queue.
    assert fanout.direct - direct_before >= 4


async def test_a_long_polling_socket_still_gets_the_broadcast_through_engineio(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    fanout = client.app[CASE_FANOUT]
    polling = socketio.AsyncClient(reconnection=False)
    received: list[dict[str, Any]] = []

    async def on_message(data: dict[str, Any]) -> None:
        received.append(data)

    polling.on("message", on_message, namespace=NS)
    await polling.connect(
        f"http://{client.server.host}:{client.server.port}",
        namespaces=[NS],
        auth={"token": token_for(client.app[TOKENS], world.regulador)},
        transports=["polling"],
        wait_timeout=10,
    )
    sender = await connect(client, world.solicitante)
    try:
        ack = await polling.call("subscribe", {"case_id": case["id"]}, namespace=NS, timeout=10)
        assert ack["ok"] is True
        queued_before = fanout.queued
        sent = await sender.call(
            "send", {"case_id": case["id"], "client_msg_id": "p-1", "text": "Pelo polling."}
        )
        await until(lambda: len(received) == 1)
    finally:
        await sender.close()
        # The server closes the engine.io session: that answers the client's pending long
        # poll (a client-side CLOSE leaves it waiting for the 25 s ping interval).
        await client.app[SIO].eio.disconnect(polling.eio.sid)
        await asyncio.wait_for(polling.eio.read_loop_task, 5)
    assert received[0] == sent["message"]
    assert fanout.queued == queued_before  # polling sockets are not direct: untouched path


def test_a_websocket_frame_header_encodes_each_length_class() -> None:
    assert websocket_text_frame(b"oi") == b"\x81\x02oi"
    assert websocket_text_frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert websocket_text_frame(b"x" * 70_000)[:10] == b"\x81\x7f" + (70_000).to_bytes(8, "big")
