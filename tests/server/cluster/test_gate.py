"""Load shedding at join: `server_busy` for what a saturated process cannot take, never a reconnect.

One process without Redis (the app in this process, its real load probe with thresholds set
by the test), and two real server processes sharing PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from server.app import create_app
from server.cluster.gate import MESSAGES, SERVER_BUSY
from server.cluster.load import Level, ProcessLoad
from server.cluster.setup import LOAD_PROBE
from server.db.engine import make_engine, make_sessions
from tests.conftest import make_settings
from tests.media.synthetic import Clip
from tests.server.cluster.processes import ServerProcess
from tests.signaling.live import Live, Peer, book, serve
from tests.support.databases import PostgresTemplate

NEVER = 1e9


@pytest.fixture
async def alone(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Live, ProcessLoad]]:
    async for live in serve(sqlite_url, tmp_path):
        probe = live.app[LOAD_PROBE]
        assert isinstance(probe, ProcessLoad)
        probe.settings.load_sample_s = 0.05
        probe.settings.load_min_forwarded_pps = 0  # these tests forward little media
        yield live, probe


@pytest.fixture
async def peers(clips: tuple[Clip, Clip]) -> AsyncIterator[Callable[[Live, str], Peer]]:
    made: list[Peer] = []

    def make(live: Live, token: str) -> Peer:
        made.append(Peer(live, token, clips))
        return made[-1]

    yield make
    for peer in made:
        await peer.close()


async def reach(probe: ProcessLoad, level: Level, **thresholds: float) -> None:
    """Set thresholds (0: always over, NEVER: never) and wait for the probe to apply them."""
    for name, value in thresholds.items():
        setattr(probe.settings, name, value)
    deadline = time.monotonic() + 5
    while probe.level is not level:
        assert time.monotonic() < deadline, f"probe stuck at {probe.level!r}"
        await asyncio.sleep(0.02)


def assert_busy(ack: dict[str, Any]) -> None:
    assert not ack["ok"]
    assert ack["error"]["code"] == SERVER_BUSY
    assert ack["error"]["message"] == MESSAGES[SERVER_BUSY]
    assert ack["error"]["message"].startswith("Servidor de vídeo sem capacidade")
    assert ack["error"]["retry_after_ms"] > 0


async def join(peer: Peer, consultation_id: object) -> dict[str, Any]:
    if not peer.sio.connected:
        await peer.connect()
    return dict(await peer.call("join", {"consultation_id": str(consultation_id)}))


async def test_alone_and_saturated_a_new_room_is_refused_until_there_is_headroom(
    alone: tuple[Live, ProcessLoad], peers: Callable[[Live, str], Peer]
) -> None:
    live, probe = alone
    booking = await book(live, professionals=1, patient=False)
    doctor = peers(live, booking.professionals[0].token)
    await reach(probe, Level.SATURATED, saturation_cpu=0.0, overload_cpu=NEVER)
    assert_busy(await join(doctor, booking.consultation_id))
    async with aiohttp.ClientSession() as http, http.get(f"{live.url}/metrics") as response:
        metrics = await response.text()
    assert "telessaude_media_load_level 1.0" in metrics
    assert 'telessaude_joins_refused_busy_total{adds="room"} 1.0' in metrics
    assert "telessaude_event_loop_lag_seconds" in metrics
    await reach(probe, Level.OK, saturation_cpu=NEVER, saturation_lag_s=NEVER)
    ack = await join(doctor, booking.consultation_id)
    assert ack["ok"], ack


async def test_overloaded_a_seated_participant_reconnects_and_a_new_one_is_refused(
    alone: tuple[Live, ProcessLoad], peers: Callable[[Live, str], Peer]
) -> None:
    live, probe = alone
    booking = await book(live, professionals=2, patient=False)
    first, second = booking.professionals
    doctor = peers(live, first.token)
    assert (await join(doctor, booking.consultation_id))["ok"]
    await reach(probe, Level.OVERLOADED, overload_cpu=0.0)
    # The doctor's connection drops; their seat waits (reconnect grace) and they come back.
    await doctor.sio.disconnect()
    back = peers(live, first.token)
    ack = await join(back, booking.consultation_id)
    assert ack["ok"], ack
    assert ack["reconnected"]
    colleague = peers(live, second.token)
    assert_busy(await join(colleague, booking.consultation_id))
    # Merely saturated: the room is hosted here, so a new participant of it is admitted.
    await reach(probe, Level.SATURATED, overload_cpu=NEVER, overload_lag_s=NEVER, saturation_cpu=0)
    ack = await join(colleague, booking.consultation_id)
    assert ack["ok"], ack


# ------------------------------------------------------------------ two real processes


@dataclasses.dataclass
class Nodes:
    a: ServerProcess
    b: ServerProcess
    live: Live


async def start_nodes(
    postgres_template: PostgresTemplate,
    redis_url: str,
    tmp_path: Path,
    a_env: dict[str, str],
    b_env: dict[str, str],
) -> AsyncIterator[Nodes]:
    database_url = await postgres_template.fresh()
    a = ServerProcess("a", database_url, redis_url, tmp_path, extra_env=a_env)
    b = ServerProcess("b", database_url, redis_url, tmp_path, extra_env=b_env)
    await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
    engine = make_engine(database_url)
    app = create_app(make_settings(database_url, tmp_path))  # only for its token service
    try:
        yield Nodes(a, b, Live(app, a.url, make_sessions(engine)))
    finally:
        a.stop()
        b.stop()
        await engine.dispose()


SATURATED_ENV = {"TELESSAUDE_SATURATION_CPU": "0", "TELESSAUDE_LOAD_MIN_FORWARDED_PPS": "0"}


@pytest.fixture
async def a_saturated(
    postgres_template: PostgresTemplate, redis_url: str, redis: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[Nodes]:
    async for nodes in start_nodes(postgres_template, redis_url, tmp_path, SATURATED_ENV, {}):
        yield nodes


@pytest.fixture
async def both_saturated(
    postgres_template: PostgresTemplate, redis_url: str, redis: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[Nodes]:
    env = SATURATED_ENV
    async for nodes in start_nodes(postgres_template, redis_url, tmp_path, env, env):
        yield nodes


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
async def test_a_new_room_entering_through_a_saturated_process_is_sent_to_one_with_headroom(
    a_saturated: Nodes, peers: Callable[[Live, str], Peer]
) -> None:
    nodes = a_saturated
    booking = await book(nodes.live, professionals=1, patient=False)
    token = booking.professionals[0].token
    ack = await join(
        peers(dataclasses.replace(nodes.live, url=nodes.a.url), token), booking.consultation_id
    )
    assert not ack["ok"] and ack["error"]["code"] == "room_elsewhere", ack
    assert ack["error"]["redirect"]["url"] == nodes.b.url
    doctor = peers(dataclasses.replace(nodes.live, url=nodes.b.url), token)
    ack = await join(doctor, booking.consultation_id)
    assert ack["ok"], ack


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
async def test_a_new_room_is_refused_with_server_busy_when_every_process_is_saturated(
    both_saturated: Nodes, peers: Callable[[Live, str], Peer], redis: aioredis.Redis
) -> None:
    nodes = both_saturated
    booking = await book(nodes.live, professionals=1, patient=False)
    token = booking.professionals[0].token
    for node in (nodes.a, nodes.b):
        peer = peers(dataclasses.replace(nodes.live, url=node.url), token)
        assert_busy(await join(peer, booking.consultation_id))
    # Nothing half-placed: the refused room is pinned nowhere.
    assert await redis.get(f"telessaude:room:{booking.consultation_id}") is None
