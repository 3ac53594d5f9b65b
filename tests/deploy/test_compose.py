"""docker-compose.yml is valid for Compose (no engine here: `config` validates it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "POSTGRES_PASSWORD": "p",
    "TELESSAUDE_JWT_SECRET": "j",
    "TURN_SECRET": "t",
    "PUBLIC_HOST": "telessaude.example.gov.br",
    "PUBLIC_IP": "203.0.113.10",
}


def compose() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    assert shutil.which("docker"), "no Compose: run scripts/install-system-deps"
    return ["docker", "compose"]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose(), "-f", str(ROOT / "docker-compose.yml"), *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_compose_file_validates_with_every_service_and_a_health_check() -> None:
    result = run("config", "-q", env=ENV)
    assert result.returncode == 0, result.stderr
    services = run("config", "--services", env=ENV).stdout.split()
    assert set(services) == {"postgres", "redis", "coturn", "app1", "app2", "proxy"}
    config = run("config", env=ENV).stdout
    assert config.count("healthcheck:") == len(services)


def test_compose_refuses_to_run_without_its_secrets() -> None:
    result = run("config", "-q", env={})
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "TURN_SECRET" in result.stderr
