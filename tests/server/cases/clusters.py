"""Servers a test can stop: the app in a subprocess, and a PostgreSQL cluster of its own."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from tests.support.postgres import _as_postgres, _bin_dir

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppProcess:
    """``server.app.create_app`` under ``web.run_app`` in a child process."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = self._spawn()
        await self._wait_healthy()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.server.cases.serve_app", self.database_url,
             str(self.data_dir), str(self.port)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    async def _wait_healthy(self) -> None:
        deadline = asyncio.get_running_loop().time() + 30
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError("the app process did not start")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, mid-request."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


class StoppableCluster:
    """A private PostgreSQL cluster the test can stop and start again."""

    def __init__(self) -> None:
        self.bindir = _bin_dir()
        self.tmp = Path(tempfile.mkdtemp(prefix="telessaude-pg-stop-"))
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres", "postgres")
        self.port = free_port()
        self.data = self.tmp / "data"
        subprocess.run(
            _as_postgres([str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                          "-U", "postgres"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-k {self.tmp} -h 127.0.0.1 -p {self.port} -c fsync=off"
        subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts,
                          "-l", str(self.tmp / "log"), "-w", "start"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def stoppable_cluster() -> Iterator[StoppableCluster]:
    cluster = StoppableCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()
