"""A python-socketio client on the /cases namespace of a running test server."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

from server.db.models import Professional
from server.keys import TOKENS
from tests.support.factories import TestClientT, token_for


class CaseSocket:
    """Collects every ``message``, ``receipt`` and ``case_event`` it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.messages: list[dict[str, Any]] = []
        self.receipts: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.sio.on("message", self._on_message, namespace="/cases")
        self.sio.on("receipt", self._on_receipt, namespace="/cases")
        self.sio.on("case_event", self._on_event, namespace="/cases")

    async def _on_message(self, data: dict[str, Any]) -> None:
        self.messages.append(data)

    async def _on_receipt(self, data: dict[str, Any]) -> None:
        self.receipts.append(data)

    async def _on_event(self, data: dict[str, Any]) -> None:
        self.events.append(data)

    async def call(self, event: str, data: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.sio.call(event, data, namespace="/cases", timeout=10)
        return result

    async def close(self) -> None:
        await self.sio.disconnect()


async def connect(client: TestClientT, who: Professional) -> CaseSocket:
    socket = CaseSocket()
    url = f"http://{client.server.host}:{client.server.port}"
    await socket.sio.connect(
        url,
        namespaces=["/cases"],
        auth={"token": token_for(client.app[TOKENS], who)},
        transports=["websocket"],
        wait_timeout=10,
    )
    return socket


async def until(condition: Any, within_s: float = 5.0) -> None:
    """Poll until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
