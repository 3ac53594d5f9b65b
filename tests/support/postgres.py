"""A throwaway PostgreSQL cluster for the test session, started as the ``postgres`` user.

``initdb``/``pg_ctl`` refuse to run as root, which is how CI runs; so the cluster lives in a temp
dir owned by ``postgres``. ``scripts/test`` may start one and pass its URL in
``TELESSAUDE_TEST_POSTGRES_URL``; otherwise the test session starts its own.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL binaries are missing: install them (scripts/test does), never skip."""


def _bin_dir() -> Path:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise PostgresUnavailableError(
        "PostgreSQL is not installed (apt-get install -y postgresql); scripts/test installs it."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """Yield the URL of a fresh cluster (``postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres``)."""
    bindir = _bin_dir()
    tmp = Path(tempfile.mkdtemp(prefix="telessaude-pg-"))
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
    port = _free_port()
    data = tmp / "data"
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # Durability is pointless for a throwaway cluster; speed is not.
    opts = (
        f"-k {tmp} -h 127.0.0.1 -p {port} "
        "-c fsync=off -c synchronous_commit=off -c max_connections=300"
    )
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(tmp / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(tmp, ignore_errors=True)
