"""Direct writes keep engine.io's keep-alive: an idle connection is never closed by the server.

engine.io's writer task closes the WebSocket when its queue stays empty for ping_interval +
ping_timeout. With every packet written directly, that used to drop every quiet socket (video
sessions included) 45 s after its last queued packet, pings answered or not.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.keys import SIO
from tests.conftest import make_settings

PING_INTERVAL_S = 0.3
PING_TIMEOUT_S = 0.3


@pytest.fixture
async def server(sqlite_url: str, tmp_path: Path) -> AsyncIterator[TestServer]:
    app = create_app(make_settings(sqlite_url, tmp_path))
    served = TestServer(app, host="127.0.0.1")
    await served.start_server()
    # Short keep-alive timers: the writer's idle limit is their sum (0.6 s here, 45 s by default).
    sio: Any = app[SIO]  # socketio has no type hints
    eio = sio.eio
    eio.ping_interval, eio.ping_timeout = PING_INTERVAL_S, PING_TIMEOUT_S
    yield served
    await served.close()


async def test_an_idle_socket_that_answers_pings_stays_open_past_the_writers_idle_limit(
    server: TestServer,
) -> None:
    url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
    limit = PING_INTERVAL_S + PING_TIMEOUT_S
    pings = 0
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        assert (await ws.receive_str()).startswith("0")  # engine.io open
        deadline = time.monotonic() + 5 * limit
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await ws.receive(timeout=left)
            except TimeoutError:
                break
            assert message.type is aiohttp.WSMsgType.TEXT, f"closed by the server: {message}"
            if message.data == "2":  # engine.io ping → pong
                pings += 1
                await ws.send_str("3")
        assert not ws.closed
    assert pings >= 4
