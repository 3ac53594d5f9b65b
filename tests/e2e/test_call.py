"""The call screen in real Chromium through the real SFU: media, chat, screen share, reload."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from server.db.models import Modality
from tests.e2e.conftest import LiveServer, People
from tests.e2e.flows import enter_room_as_professional, log_in
from tests.e2e.harness import assert_audio_flows, assert_video_flows, new_person, wait_state
from tests.e2e.world import make_clinic, make_video_consultation

pytestmark = pytest.mark.browser


async def test_two_professionals_in_a_teleconsultoria_see_and_hear_each_other(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    clinic = await make_clinic(live_server.sessions)
    consultation = await make_video_consultation(
        live_server.sessions, clinic, modality=Modality.TELECONSULTORIA, with_patient=False, specialist=True
    )
    ana = people.add(await new_person(browser, live_server.url, "ana"))
    bruno = people.add(await new_person(browser, live_server.url, "bruno"))
    await log_in(ana, clinic.doctor.cpf, clinic.password)
    await log_in(bruno, clinic.specialist.cpf, clinic.password)
    a = await enter_room_as_professional(ana, str(consultation.id))
    b = await enter_room_as_professional(bruno, str(consultation.id))
    await assert_video_flows(ana, str(b["participantId"]))
    await assert_video_flows(bruno, str(a["participantId"]))
    await assert_audio_flows(ana, str(b["participantId"]))
    await wait_state(ana, "pc connected", lambda s: s["pc"] == "connected")
