"""Load shedding in real Chromium: a join refused with `server_busy` is shown and retried."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import Browser, expect

from server.cluster.load import Level, ProcessLoad
from server.cluster.setup import LOAD_PROBE
from tests.e2e.conftest import LiveServer, People
from tests.e2e.flows import log_in, pass_device_check
from tests.e2e.harness import new_person, wait_state
from tests.e2e.world import make_clinic, make_video_consultation

pytestmark = pytest.mark.browser


async def reach(probe: ProcessLoad, level: Level) -> None:
    deadline = time.monotonic() + 5
    while probe.level is not level:
        assert time.monotonic() < deadline, f"probe stuck at {probe.level!r}"
        await asyncio.sleep(0.02)


async def test_a_call_refused_for_lack_of_capacity_says_so_and_joins_once_there_is_room(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    clinic = await make_clinic(live_server.sessions)
    consultation = await make_video_consultation(live_server.sessions, clinic)
    probe = live_server.app[LOAD_PROBE]
    assert isinstance(probe, ProcessLoad)
    # This server forwards no media: the thresholds say it is saturated from now on.
    probe.settings.load_sample_s, probe.settings.load_min_forwarded_pps = 0.05, 0
    probe.settings.saturation_cpu = 0
    await reach(probe, Level.SATURATED)

    ana = people.add(await new_person(browser, live_server.url, "ana"))
    await log_in(ana, clinic.doctor.cpf, clinic.password)
    await ana.page.goto(f"/consultas/{consultation.id}/sala")
    await pass_device_check(ana)
    await wait_state(
        ana, "refused as busy", lambda s: any(e["code"] == "server_busy" for e in s["errors"])
    )
    banner = ana.page.locator("#banner-reconectando")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Servidor de vídeo sem capacidade no momento")

    probe.settings.saturation_cpu = 1e9
    await reach(probe, Level.OK)
    state = await wait_state(ana, "joined after the retry", lambda s: s.get("joined") is True)
    assert state["joins"] == 1
    await expect(banner).to_be_hidden()
