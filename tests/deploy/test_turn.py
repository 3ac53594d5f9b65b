"""A real coturn run with deploy/coturn/turnserver.conf, and the credentials the server mints."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aioice.turn import create_turn_endpoint

from server.realtime import turn_credentials

CONF = Path(__file__).resolve().parents[2] / "deploy" / "coturn" / "turnserver.conf"
SECRET = "turn-test-secret-" + "k3Zq" * 8


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def turn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    binary = shutil.which("turnserver")
    assert binary, "coturn is not installed: run scripts/install-system-deps"
    port = _free_udp_port()
    log = tmp_path_factory.mktemp("coturn") / "turn.log"
    process = subprocess.Popen(
        [
            binary,
            "-c",
            str(CONF),
            f"--static-auth-secret={SECRET}",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            "--no-tls",
            "--no-dtls",
            # Only for this test: peers on loopback (production denies private ranges).
            "--allow-loopback-peers",
            f"--log-file={log}",
            "--pidfile=" + str(log.with_suffix(".pid")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # coturn has no readiness signal; allocation below retries anyway
    try:
        assert process.poll() is None, log.read_text() if log.exists() else "coturn exited"
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=10)


class Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))


async def allocate(server: tuple[str, int], username: str, password: str) -> tuple[object, Sink]:
    transport, protocol = await create_turn_endpoint(Sink, server, username, password, lifetime=60)
    return transport, protocol


async def test_minted_credentials_allocate_a_relay_that_carries_packets_both_ways(
    turn_server: tuple[str, int],
) -> None:
    username, password = turn_credentials(SECRET, "participant-1", 600, time.time())
    transport, client = await allocate(turn_server, username, password)
    try:
        relayed = transport.get_extra_info("sockname")  # type: ignore[attr-defined]
        assert relayed[0] == "127.0.0.1"
        loop = asyncio.get_running_loop()
        peer_transport, peer = await loop.create_datagram_endpoint(
            Sink, local_addr=("127.0.0.1", 0)
        )
        peer_addr = peer_transport.get_extra_info("sockname")
        transport.sendto(b"rtp from the browser", peer_addr)  # type: ignore[attr-defined]
        data, source = await asyncio.wait_for(peer.received.get(), 5)
        assert data == b"rtp from the browser"
        assert source[1] == relayed[1]  # it came out of the relay
        peer_transport.sendto(b"rtp from the sfu", source)
        data, _ = await asyncio.wait_for(client.received.get(), 5)
        assert data == b"rtp from the sfu"
        peer_transport.close()
    finally:
        transport.close()  # type: ignore[attr-defined]


async def test_expired_credentials_are_refused(turn_server: tuple[str, int]) -> None:
    username, password = turn_credentials(SECRET, "participant-1", 60, time.time() - 3600)
    with pytest.raises(Exception, match="401"):
        await asyncio.wait_for(allocate(turn_server, username, password), 10)


async def test_credentials_forged_with_another_secret_are_refused(
    turn_server: tuple[str, int],
) -> None:
    username, password = turn_credentials("not-the-secret", "participant-1", 600, time.time())
    with pytest.raises(Exception, match="401"):
        await asyncio.wait_for(allocate(turn_server, username, password), 10)
