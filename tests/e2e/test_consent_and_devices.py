"""The patient's choices before media flows: refusing the TCLE, and a denied camera."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Playwright
from sqlalchemy import select

from server.records.models import Consent, ConsentDecision
from tests.e2e.conftest import LiveServer, People
from tests.e2e.flows import doctor_and_invited_patient, enter_room_as_professional, log_in
from tests.e2e.harness import (
    PHONE,
    assert_audio_flows,
    assert_video_flows,
    launch,
    new_person,
    snap,
    wait_state,
)
from tests.e2e.world import make_clinic, make_invite, make_video_consultation, patient_participant

pytestmark = pytest.mark.browser


async def test_a_patient_who_refuses_consent_is_told_about_in_person_care_and_sends_no_media(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    visit = await doctor_and_invited_patient(live_server, browser, people)
    consultation = visit.consultation
    link = visit.link
    ana = visit.ana
    joao = visit.joao
    await enter_room_as_professional(ana, str(consultation.id))

    await joao.page.goto(link)
    await joao.page.get_by_role("button", name="Continuar").click()
    await joao.page.get_by_role("button", name="Não aceito").click()
    await joao.page.wait_for_selector("body[data-screen='consentimento-recusado']")
    await joao.page.get_by_text("atendimento presencial na sua unidade de saúde").wait_for()
    await snap(joao, "13-consentimento-recusado-celular")

    async with live_server.sessions() as db:
        decisions = list(
            await db.scalars(
                select(Consent.decision).where(Consent.consultation_id == consultation.id)
            )
        )
    assert decisions == [ConsentDecision.REFUSED]
    # The patient's page never opened the camera or the microphone, nor a signaling socket…
    state = await joao.state()
    assert state["mediaRequests"] == 0
    assert "socket_create" not in state["marks"]
    assert state["remoteTracks"] == [] and state["joins"] == 0
    # …so the professional's room holds only the professional, with nothing received.
    doctor = await ana.state()
    assert [p["role"] for p in doctor["participants"]] == ["solicitante"]
    assert doctor["remoteTracks"] == []


async def test_with_the_camera_denied_the_patient_sees_why_and_joins_with_audio_only(
    live_server: LiveServer, browser: Browser, playwright: Playwright, people: People
) -> None:
    clinic = await make_clinic(live_server.sessions)
    consultation = await make_video_consultation(live_server.sessions, clinic)
    seat = await patient_participant(live_server.sessions, consultation)
    link = "/entrar/" + await make_invite(
        live_server.sessions, consultation, seat.id, clinic.doctor
    )
    ana = people.add(await new_person(browser, live_server.url, "ana"))
    await log_in(ana, clinic.doctor.cpf, clinic.password)
    a = await enter_room_as_professional(ana, str(consultation.id))

    # A browser without the auto-accepting fake UI: only the microphone is allowed.
    strict = await launch(playwright, fake_ui=False)
    try:
        joao = people.add(
            await new_person(
                strict,
                live_server.url,
                "joao",
                viewport=PHONE,
                is_mobile=True,
                permissions=["microphone"],
            )
        )
        await joao.page.goto(link)
        await joao.page.get_by_role("button", name="Continuar").click()
        await joao.page.get_by_role("button", name="Li e aceito").click()
        await joao.page.wait_for_selector("body[data-screen='verificacao']")
        await joao.page.get_by_text("Você não permitiu o uso da câmera").wait_for()
        await joao.page.get_by_text("Seu microfone funciona").wait_for()
        assert await joao.page.get_by_label("Entrar só com áudio").is_checked()
        await snap(joao, "14-camera-negada-celular")
        await joao.page.get_by_role("button", name="Entrar só com áudio").click()
        j = await wait_state(joao, "admitted", lambda s: s.get("joined") and s["admitted"])
        assert j["localTracks"] == {"microphone": True, "camera": False, "screen": False}
        assert any(e["code"] == "NotAllowedError" for e in j["errors"])

        await assert_audio_flows(ana, j["participantId"])
        await assert_video_flows(joao, a["participantId"])
        await assert_audio_flows(joao, a["participantId"])
        # The professional sees the patient's tile without video (initials instead).
        await ana.page.locator(
            f"figure.sem-video[data-participant-id='{j['participantId']}'][data-source='camera']"
        ).wait_for()
    finally:
        await strict.close()
