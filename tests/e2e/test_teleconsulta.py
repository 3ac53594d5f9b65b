"""A 1:1 teleconsulta in real Chromium, through the UI: professional on a desktop, patient on a
phone viewport, both through the real server and SFU."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.e2e.conftest import LiveServer, People
from tests.e2e.flows import (
    create_consultation,
    issue_patient_link,
    log_in,
    pass_device_check,
)
from tests.e2e.harness import (
    PHONE,
    assert_audio_flows,
    assert_video_flows,
    new_person,
    snap,
    wait_state,
)
from tests.e2e.world import make_clinic

pytestmark = pytest.mark.browser


async def test_a_teleconsulta_from_login_to_clinical_note(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    clinic = await make_clinic(live_server.sessions)
    doctor = people.add(await new_person(browser, live_server.url, "medica"))
    patient = people.add(
        await new_person(browser, live_server.url, "paciente", viewport=PHONE, is_mobile=True)
    )

    await doctor.page.goto("/login")
    await snap(doctor, "01-login")
    await log_in(doctor, clinic.doctor.cpf, clinic.password)
    consultation_id = await create_consultation(doctor, clinic.patient.name)
    link = await issue_patient_link(doctor)
    assert link.startswith(live_server.url + "/entrar/") or "/entrar/" in link
    await snap(doctor, "03-consulta-convite")
    await doctor.page.goto("/agenda")
    await doctor.page.wait_for_selector(f"[data-consultation-id='{consultation_id}']")
    await snap(doctor, "02-agenda")

    await doctor.page.goto(f"/consultas/{consultation_id}/sala")
    await doctor.page.wait_for_selector("body[data-screen='verificacao']")
    await snap(doctor, "05-verificacao-dispositivos")
    await pass_device_check(doctor)
    me = await wait_state(doctor, "joined and admitted", lambda s: s["joined"] and s["admitted"])

    await patient.page.goto(link)
    await patient.page.get_by_role("button", name="Continuar").wait_for()
    await snap(patient, "04-convite-celular")
    await patient.page.get_by_role("button", name="Continuar").click()
    await patient.page.wait_for_selector("body[data-screen='consentimento']")
    await snap(patient, "06-consentimento-celular")
    await patient.page.get_by_role("button", name="Li e aceito").click()
    await pass_device_check(patient)
    them = await wait_state(patient, "admitted", lambda s: s["joined"] and s["admitted"])

    await assert_video_flows(doctor, them["participantId"])
    await assert_video_flows(patient, me["participantId"])
    await assert_audio_flows(patient, me["participantId"])
    await snap(doctor, "07-chamada")
    await snap(patient, "08-chamada-celular")

    # Chat both ways (the patient's panel is closed on a phone: the button opens it).
    await doctor.page.get_by_label("Escreva uma mensagem").fill("Bom dia, João. Está me ouvindo?")
    await doctor.page.get_by_role("button", name="Enviar mensagem").click()
    await patient.page.get_by_role("button", name="Abrir chat").click()
    await patient.page.get_by_label("Escreva uma mensagem").fill("Bom dia, doutora! Sim.")
    await patient.page.keyboard.press("Enter")
    for person in (doctor, patient):
        await wait_state(
            person,
            "both chat messages",
            lambda s: (
                [m["text"] for m in s["chat"]]
                == ["Bom dia, João. Está me ouvindo?", "Bom dia, doutora! Sim."]
            ),
        )
    await snap(patient, "09-chat-celular")

    doctor.page.once("dialog", lambda dialog: dialog.accept())
    await doctor.page.get_by_role("button", name="Encerrar a consulta para todos").click()
    await patient.page.wait_for_selector("body[data-screen='encerrada']")
    await patient.page.get_by_text("A consulta foi encerrada").wait_for()
    await doctor.page.wait_for_selector("#form-nota")
    await doctor.page.get_by_label("Código do motivo").fill("K86")
    await doctor.page.get_by_label("Descrição").fill("Hipertensão sem complicações")
    await doctor.page.get_by_label("S – Subjetivo (queixa e história)").fill("Sem queixas.")
    await doctor.page.get_by_label("A – Avaliação").fill("Pressão controlada.")
    await doctor.page.get_by_label("P – Plano").fill("Manter medicação; retorno em 3 meses.")
    await snap(doctor, "10-nota-clinica")
    await doctor.page.get_by_role("button", name="Salvar no prontuário").click()
    await doctor.page.get_by_text("Nota clínica salva").first.wait_for()
