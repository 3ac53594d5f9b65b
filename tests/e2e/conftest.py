"""End-to-end fixtures: the real app served over real HTTP on 127.0.0.1, the built web client,
one Chromium per test, one context per participant, screenshots on failure."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Playwright, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.app import create_app
from server.keys import DB_SESSIONS
from tests.conftest import make_settings
from tests.e2e.harness import Person, launch

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session", autouse=True)
def web_client_built() -> None:
    """The server serves clients/web/dist: build it once (a no-op when sources are unchanged)."""
    subprocess.run([str(ROOT / "scripts" / "build-web")], check=True, cwd=ROOT)
    assert (ROOT / "clients" / "web" / "dist" / "index.html").exists()


@dataclass
class LiveServer:
    url: str
    app: web.Application

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        sessions: async_sessionmaker[AsyncSession] = self.app[DB_SESSIONS]
        return sessions


@pytest.fixture
async def live_server(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The real app (HTTP, Socket.IO, SFU) on a free loopback port, in the test's event loop."""
    # Bound before the app exists, so the app knows its public URL (it goes into invite links).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(sqlite_url, tmp_path, public_url=url, port=port))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    yield LiveServer(url=url, app=app)
    await runner.cleanup()


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@dataclass
class People:
    """Every participant page opened by a test, for the failure screenshots."""

    persons: list[Person] = field(default_factory=list)

    def add(self, person: Person) -> Person:
        self.persons.append(person)
        return person


@pytest.fixture
def people() -> People:
    return People()


@pytest.fixture
async def browser(
    playwright: Playwright, people: People, request: pytest.FixtureRequest
) -> AsyncIterator[Browser]:
    browser = await launch(playwright)
    yield browser
    await _screenshots_if_failed(request, people)
    await browser.close()


async def _screenshots_if_failed(request: pytest.FixtureRequest, people: People) -> None:
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for person in people.persons:
        try:
            await person.page.screenshot(path=str(ARTIFACTS / f"{stem}-{person.name}.png"))
            state = await person.state()
            (ARTIFACTS / f"{stem}-{person.name}.txt").write_text(
                f"url: {person.page.url}\nstate: {state!r}\n\nconsole:\n"
                + "\n".join(person.console)
            )
        except Exception as exc:  # a closed page must not hide the test's own failure
            (ARTIFACTS / f"{stem}-{person.name}.txt").write_text(f"no screenshot: {exc!r}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
