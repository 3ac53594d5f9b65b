"""Two real server processes sharing real PostgreSQL and Redis, with synthetic WebRTC clients.

A client reaches "the balancer" (any live node), follows `room_elsewhere` to the node hosting
its room, and on `server_draining` or a dropped connection enters again the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import socketio

from media import TrackSource
from server.app import create_app
from server.db.engine import make_engine, make_sessions
from signaling import room_key
from tests.conftest import make_settings
from tests.media.synthetic import Clip
from tests.server.cluster.processes import ServerProcess
from tests.signaling.live import (
    NAMESPACE,
    Live,
    Peer,
    book,
    eventually,
    record_consent,
)
from tests.support.databases import PostgresTemplate

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

MIC, CAM = TrackSource.MICROPHONE, TrackSource.CAMERA


@dataclasses.dataclass
class Cluster:
    nodes: list[ServerProcess]
    live: Live
    redis_url: str

    def balancer(self, avoid: str | None = None) -> str:
        """What a health-checking load balancer does: any live node (not one that said bye)."""
        alive = [n for n in self.nodes if n.process is not None and n.process.poll() is None]
        preferred = [n for n in alive if n.url != avoid] or alive
        assert preferred, "no live node"
        return preferred[0].url


@pytest.fixture
async def cluster(
    postgres_template: PostgresTemplate, redis_url: str, redis: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[Cluster]:
    database_url = await postgres_template.fresh()
    nodes = [ServerProcess(name, database_url, redis_url, tmp_path) for name in ("a", "b")]
    await asyncio.gather(*(asyncio.to_thread(n.start) for n in nodes))
    engine = make_engine(database_url)
    app = create_app(make_settings(database_url, tmp_path))  # only for its token service
    try:
        yield Cluster(nodes, Live(app, nodes[0].url, make_sessions(engine)), redis_url)
    finally:
        for node in nodes:
            node.stop()
        await engine.dispose()


class Client:
    """A participant's app over the cluster: enters, follows redirects, re-enters when told."""

    def __init__(self, cluster: Cluster, token: str, clips: tuple[Clip, Clip], name: str) -> None:
        self.cluster, self.token, self.clips, self.name = cluster, token, clips, name
        self.peer: Peer | None = None
        self.participant_id = ""
        self.redirects = 0
        self.drained = asyncio.Event()
        self.chat: list[dict[str, Any]] = []

    async def enter(self, consultation_id: uuid.UUID, url: str | None = None) -> str:
        url = url or self.cluster.balancer()
        for _ in range(200):
            peer = Peer(dataclasses.replace(self.cluster.live, url=url), self.token, self.clips)
            peer.name, peer.participant_id = self.name, self.participant_id
            peer.sio.on("server_draining", self._on_draining, namespace=NAMESPACE)
            peer.sio.on("chat_message", self._on_chat, namespace=NAMESPACE)
            try:
                await peer.connect()
                ack = await peer.call("join", {"consultation_id": str(consultation_id)})
            except (socketio.exceptions.SocketIOError, OSError, TimeoutError):
                await peer.close()
                url = self.cluster.balancer(avoid=url)
                await asyncio.sleep(0.1)
                continue
            if ack["ok"]:
                if self.peer is not None:
                    await self.peer.close()
                self.peer, self.participant_id = peer, ack["participant_id"]
                self.drained.clear()
                return url
            await peer.close()
            if ack["error"]["code"] == "room_elsewhere":
                self.redirects += 1
                url = ack["error"]["redirect"]["url"]
            else:  # server_draining, or the host we were sent to just died
                url = self.cluster.balancer(avoid=url)
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} never entered")

    async def _on_draining(self, data: dict[str, Any]) -> None:
        assert data["reason"] == "shutdown" and data["message"]
        self.drained.set()

    async def _on_chat(self, data: dict[str, Any]) -> None:
        self.chat.append(data["message"])

    def receives(self, other: Client) -> Callable[[], bool]:
        def check() -> bool:
            return self.peer is not None and all(
                self.peer.packets_from(other.participant_id, source) > 5 for source in (MIC, CAM)
            )

        return check

    async def close(self) -> None:
        if self.peer is not None:
            await self.peer.close()


@pytest.fixture
async def clients(
    cluster: Cluster, clips: tuple[Clip, Clip]
) -> AsyncIterator[Callable[[str, str], Client]]:
    made: list[Client] = []

    def make(token: str, name: str) -> Client:
        made.append(Client(cluster, token, clips, name))
        return made[-1]

    yield make
    for client in made:
        await client.close()


async def test_clients_entering_through_different_processes_meet_on_one_and_exchange_media(
    cluster: Cluster, clients: Callable[[str, str], Client]
) -> None:
    a, b = cluster.nodes
    booking = await book(cluster.live)
    await record_consent(cluster.live, booking)
    assert booking.patient is not None
    doctor = clients(booking.professionals[0].token, "doctor")
    patient = clients(booking.patient.token, "patient")
    host = await doctor.enter(booking.consultation_id, a.url)
    assert host == a.url and doctor.redirects == 0  # an idle cluster: the room stays where asked
    assert await patient.enter(booking.consultation_id, b.url) == a.url
    assert patient.redirects == 1
    await eventually(doctor.receives(patient), within=30)
    await eventually(patient.receives(doctor), within=30)


async def test_a_consent_recorded_through_the_other_process_admits_the_held_patient_at_once(
    cluster: Cluster, clients: Callable[[str, str], Client]
) -> None:
    a, b = cluster.nodes
    booking = await book(cluster.live)  # no consent on file: the patient waits
    assert booking.patient is not None
    doctor = clients(booking.professionals[0].token, "doctor")
    patient = clients(booking.patient.token, "patient")
    assert await doctor.enter(booking.consultation_id, a.url) == a.url
    assert await patient.enter(booking.consultation_id, b.url) == a.url
    held, host = patient.peer, doctor.peer
    assert held is not None and host is not None
    await eventually(lambda: host.presence("waiting", patient.participant_id))
    # The balancer sends the consent request to b, which does not host the room.
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{b.url}/api/consent-terms/teleconsulta") as response:
            term = await response.json()
        async with http.post(
            f"{b.url}/api/consultations/{booking.consultation_id}/consent",
            json={
                "decision": "accepted",
                "channel": "verbal_transcribed",
                "term_version": term["version"],
                "term_sha256": term["sha256"],
            },
            headers={"Authorization": f"Bearer {booking.professionals[0].token}"},
        ) as response:
            assert response.status == 201, await response.text()
    # No new join, no admit request: a re-checks its room when b tells it.
    await eventually(lambda: held.presence("admitted", patient.participant_id), within=10)
    await eventually(doctor.receives(patient), within=30)


async def test_an_emit_from_any_process_reaches_the_sockets_of_a_room_through_redis(
    cluster: Cluster, clients: Callable[[str, str], Client]
) -> None:
    booking = await book(cluster.live, patient=False, professionals=2)
    first = clients(booking.professionals[0].token, "first")
    second = clients(booking.professionals[1].token, "second")
    await first.enter(booking.consultation_id, cluster.nodes[0].url)
    await second.enter(booking.consultation_id, cluster.nodes[1].url)
    assert second.redirects == 1
    # A chat sent through the room's host reaches the other member ...
    assert first.peer is not None
    ack = await first.peer.call("chat_send", {"client_msg_id": "m-1", "text": "bom dia"})
    assert ack["ok"]
    await eventually(lambda: [m["client_msg_id"] for m in second.chat] == ["m-1"])
    # ... and a process that hosts none of its sockets (a worker, the other node) reaches both.
    outside = socketio.AsyncRedisManager(
        cluster.redis_url, channel="telessaude:socketio", write_only=True
    )
    message = {"id": 0, "client_msg_id": "from-outside", "text": "aviso"}
    await outside.emit(
        "chat_message",
        {"message": message},
        namespace=NAMESPACE,
        room=room_key(str(booking.consultation_id)),
    )
    await eventually(lambda: any(m["client_msg_id"] == "from-outside" for m in first.chat))
    await eventually(lambda: any(m["client_msg_id"] == "from-outside" for m in second.chat))


async def test_killing_the_host_moves_the_room_and_media_comes_back(
    cluster: Cluster, clients: Callable[[str, str], Client]
) -> None:
    a, b = cluster.nodes
    booking = await book(cluster.live)
    await record_consent(cluster.live, booking)
    assert booking.patient is not None
    doctor = clients(booking.professionals[0].token, "doctor")
    patient = clients(booking.patient.token, "patient")
    await doctor.enter(booking.consultation_id, a.url)
    await patient.enter(booking.consultation_id, a.url)
    await eventually(patient.receives(doctor), within=30)

    a.kill()
    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    hosts = await asyncio.gather(
        doctor.enter(booking.consultation_id), patient.enter(booking.consultation_id)
    )
    assert list(hosts) == [b.url, b.url]
    moved_in = loop.time() - killed_at
    assert moved_in < 10, f"room took {moved_in:.1f} s to move"
    await eventually(doctor.receives(patient), within=30)
    await eventually(patient.receives(doctor), within=30)


async def test_a_rolling_restart_loses_no_acknowledged_chat_message(
    cluster: Cluster, clients: Callable[[str, str], Client]
) -> None:
    a, b = cluster.nodes
    booking = await book(cluster.live, patient=False, professionals=2)
    sender = clients(booking.professionals[0].token, "sender")
    reader = clients(booking.professionals[1].token, "reader")
    await sender.enter(booking.consultation_id, a.url)
    await reader.enter(booking.consultation_id, a.url)
    acknowledged: list[str] = []
    stop = asyncio.Event()

    async def follow(client: Client) -> None:
        """Re-enter whenever the node says it drains or the connection drops."""
        while not stop.is_set():
            peer = client.peer
            if client.drained.is_set() or peer is None or not peer.sio.connected:
                await client.enter(booking.consultation_id)
            await asyncio.sleep(0.05)

    async def send() -> None:
        n = 0
        while not stop.is_set():
            msg_id = f"m-{n}"
            peer = sender.peer
            try:
                assert peer is not None
                ack = await asyncio.wait_for(
                    peer.call("chat_send", {"client_msg_id": msg_id, "text": f"mensagem {n}"}), 5
                )
            except (socketio.exceptions.SocketIOError, TimeoutError, AssertionError):
                ack = {"ok": False}
            if ack.get("ok"):
                acknowledged.append(msg_id)
                n += 1  # not acknowledged: retry the same id (idempotent on the server)
            await asyncio.sleep(0.02)

    tasks = [asyncio.create_task(t) for t in (follow(sender), follow(reader), send())]
    try:
        await eventually(lambda: len(acknowledged) >= 10)
        assert await asyncio.to_thread(a.terminate) == 0  # drains, then exits cleanly
        await eventually(lambda: sender.peer is not None and sender.peer.live.url == b.url)
        count = len(acknowledged)
        await eventually(lambda: len(acknowledged) >= count + 10)
        await asyncio.to_thread(a.start)
        assert await asyncio.to_thread(b.terminate) == 0
        await eventually(lambda: sender.peer is not None and sender.peer.live.url == a.url)
        count = len(acknowledged)
        await eventually(lambda: len(acknowledged) >= count + 10)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert reader.peer is not None
    stored: list[str] = []
    after_id, has_more = 0, True
    while has_more:  # page through: the protocol caps one page
        page = await reader.peer.call("chat_history", {"after_id": after_id, "limit": 100})
        assert page["ok"], page
        stored += [m["client_msg_id"] for m in page["messages"]]
        after_id, has_more = page["messages"][-1]["id"] if page["messages"] else 0, page["has_more"]
    assert set(acknowledged) <= set(stored)
    assert len(stored) == len(set(stored))  # retries never duplicated a message
