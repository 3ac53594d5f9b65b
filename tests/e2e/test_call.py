"""The call screen in real Chromium through the real SFU: three parties, screen share, reload."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from server.db.models import Modality
from server.realtime import REALTIME
from tests.e2e.conftest import LiveServer, People
from tests.e2e.flows import (
    doctor_and_invited_patient,
    enter_room_as_professional,
    log_in,
    open_invite_and_accept,
)
from tests.e2e.harness import (
    PHONE,
    assert_audio_flows,
    assert_video_flows,
    new_person,
    snap,
    wait_state,
)
from tests.e2e.world import make_clinic, make_invite, make_video_consultation, patient_participant

pytestmark = pytest.mark.browser


async def test_in_a_teleinterconsulta_everyone_receives_the_two_others_and_the_screen_share(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    clinic = await make_clinic(live_server.sessions)
    consultation = await make_video_consultation(
        live_server.sessions, clinic, modality=Modality.TELEINTERCONSULTA, specialist=True
    )
    seat = await patient_participant(live_server.sessions, consultation)
    link = "/entrar/" + await make_invite(
        live_server.sessions, consultation, seat.id, clinic.doctor
    )
    ana = people.add(await new_person(browser, live_server.url, "ana"))
    bruno = people.add(await new_person(browser, live_server.url, "bruno"))
    joao = people.add(
        await new_person(browser, live_server.url, "joao", viewport=PHONE, is_mobile=True)
    )
    await log_in(ana, clinic.doctor.cpf, clinic.password)
    await log_in(bruno, clinic.specialist.cpf, clinic.password)

    a = await enter_room_as_professional(ana, str(consultation.id))
    await open_invite_and_accept(joao, link)
    b = await enter_room_as_professional(bruno, str(consultation.id))
    j = await wait_state(joao, "admitted", lambda s: s["admitted"])
    ids = {"ana": a["participantId"], "bruno": b["participantId"], "joao": j["participantId"]}

    everyone = {"ana": ana, "bruno": bruno, "joao": joao}
    for name, viewer in everyone.items():
        for other, publisher_id in ids.items():
            if other != name:
                await assert_video_flows(viewer, publisher_id)
                await assert_audio_flows(viewer, publisher_id)
    # The grid shows three named tiles on every screen.
    for viewer in everyone.values():
        await wait_state(viewer, "3 participants", lambda s: len(s["participants"]) == 3)
        assert await viewer.page.locator("#grade figure[data-source='camera']").count() == 3
    await snap(ana, "11-teleinterconsulta")
    # Chromium's packets take the SFU's C path once each stream is forwarding
    media = live_server.app[REALTIME].rooms.stats()["total"]
    assert media.received_in_c > 0.7 * media.received_packets > 0  # 96 % when written

    await ana.page.get_by_role("button", name="Compartilhar tela").click()
    await wait_state(ana, "sharing", lambda s: s["localTracks"].get("screen") is True)
    for viewer in (bruno, joao):
        await assert_video_flows(viewer, ids["ana"], "screen", moving=False)
        await viewer.page.locator(
            f"figure[data-participant-id='{ids['ana']}'][data-source='screen']"
        ).wait_for()
    await snap(bruno, "12-compartilhamento-de-tela")
    await ana.page.get_by_role("button", name="Parar de compartilhar a tela").click()
    for viewer in (bruno, joao):
        await viewer.page.locator("figure[data-source='screen']").wait_for(state="detached")


async def test_a_participant_who_reloads_the_page_mid_call_rejoins_and_media_resumes(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    visit = await doctor_and_invited_patient(live_server, browser, people)
    consultation = visit.consultation
    link = visit.link
    ana = visit.ana
    joao = visit.joao
    a = await enter_room_as_professional(ana, str(consultation.id))
    await open_invite_and_accept(joao, link)
    j = await wait_state(joao, "admitted", lambda s: s["admitted"])
    await assert_video_flows(ana, j["participantId"])
    await assert_chat_sent(joao, "Antes de recarregar")

    for reloader, other, reloader_id, other_id in (
        (joao, ana, j["participantId"], a["participantId"]),
        (ana, joao, a["participantId"], j["participantId"]),
    ):
        await reloader.page.reload()
        # Straight back into the call (no device check, no consent again), same seat.
        back = await wait_state(reloader, "rejoined", lambda s: s.get("joined") and s["admitted"])
        assert back["participantId"] == reloader_id
        await assert_video_flows(reloader, other_id)
        await assert_video_flows(other, reloader_id)
        await assert_audio_flows(other, reloader_id)
        # The chat history comes back with the page.
        await wait_state(
            reloader,
            "chat history",
            lambda s: "Antes de recarregar" in [m["text"] for m in s["chat"]],
        )
        assert await reloader.page.locator("body[data-screen='chamada']").count() == 1


async def assert_chat_sent(person: object, text: str) -> None:
    from tests.e2e.harness import Person

    assert isinstance(person, Person)
    await person.page.get_by_role("button", name="Abrir chat").click()
    await person.page.get_by_label("Escreva uma mensagem").fill(text)
    await person.page.get_by_role("button", name="Enviar mensagem").click()
    await wait_state(person, "chat sent", lambda s: text in [m["text"] for m in s["chat"]])
