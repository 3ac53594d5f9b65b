"""A throwaway Redis server on loopback for the tests that need one.

No persistence, a free port, killed at the end. Redis missing is an error, never a skip:
scripts/install-system-deps installs it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator


class RedisUnavailableError(RuntimeError):
    """redis-server is not installed (apt-get install -y redis-server)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_redis() -> Iterator[str]:
    """Yield ``redis://127.0.0.1:PORT/0`` of a fresh server."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailableError(
            "redis-server is not installed; run scripts/install-system-deps"
        )
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="telessaude-redis-")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RedisUnavailableError(f"redis-server did not start on port {port}")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
