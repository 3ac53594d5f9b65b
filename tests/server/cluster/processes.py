"""Real server processes for the cluster tests: `python -m server.serve` on loopback ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import TEST_JWT_SECRET

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One node: its id, URL and OS process; restartable on the same port."""

    node_id: str
    database_url: str
    redis_url: str
    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.node_id}.log"

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "TELESSAUDE_DATABASE_URL": self.database_url,
            "TELESSAUDE_REDIS_URL": self.redis_url,
            "TELESSAUDE_JWT_SECRET": TEST_JWT_SECRET,
            "TELESSAUDE_DATA_DIR": str(self.data_dir),
            "TELESSAUDE_HOST": "127.0.0.1",
            "TELESSAUDE_PORT": str(self.port),
            "TELESSAUDE_ICE_HOST_ADDRESSES": json.dumps(["127.0.0.1"]),
            "TELESSAUDE_NODE_ID": self.node_id,
            "TELESSAUDE_NODE_URL": self.url,
            "TELESSAUDE_HEARTBEAT_S": "0.5",
            "TELESSAUDE_DRAIN_TIMEOUT_S": "5",
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.serve"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.node_id} exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.node_id} not healthy:\n{self.log_path.read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """A crash: no drain, no clean-up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator does at a rolling restart; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
