"""The prontuário in real Chromium: after a real 1:1 teleconsulta the professional writes the
note, issues a signed atestado and receita, reads the record (session summary with every art. 450
field, chain check), downloads it as PDF and FHIR, and anyone verifies the atestado's signature;
a patient held for consent gets in once the professional records verbal consent."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select, text

from server.db.models import Consultation, Modality
from server.records.models import Consent, ConsentChannel, ConsentDecision
from tests.e2e.conftest import LiveServer, People
from tests.e2e.flows import (
    create_consultation,
    doctor_and_invited_patient,
    enter_room_as_professional,
    issue_patient_link,
    log_in,
    open_invite_and_accept,
    pass_device_check,
)
from tests.e2e.harness import (
    PHONE,
    assert_video_flows,
    new_person,
    snap,
    wait_state,
)
from tests.e2e.records_flows import download, issue_atestado, issue_receita, write_note
from tests.e2e.world import make_clinic, make_video_consultation

pytestmark = pytest.mark.browser

BRT = ZoneInfo("America/Sao_Paulo")


async def test_after_a_teleconsulta_the_record_holds_the_session_note_and_signed_documents(
    live_server: LiveServer, browser: Browser, people: People, tmp_path: Path
) -> None:
    clinic = await make_clinic(live_server.sessions)
    ana = people.add(await new_person(browser, live_server.url, "ana"))
    joao = people.add(
        await new_person(browser, live_server.url, "joao", viewport=PHONE, is_mobile=True)
    )

    # A real teleconsulta through the UI, media flowing both ways.
    await log_in(ana, clinic.doctor.cpf, clinic.password)
    consultation_id = await create_consultation(ana, clinic.patient.name)
    link = await issue_patient_link(ana)
    me = await enter_room_as_professional(ana, consultation_id)
    await open_invite_and_accept(joao, link)
    them = await wait_state(joao, "admitted", lambda s: s["admitted"])
    await assert_video_flows(ana, them["participantId"], moving=False)
    await assert_video_flows(joao, me["participantId"], moving=False)
    ana.page.once("dialog", lambda dialog: dialog.accept())
    await ana.page.get_by_role("button", name="Encerrar a consulta para todos").click()

    # The patient gets their own copy right after the call, with the invite's access.
    await joao.page.wait_for_selector("body[data-screen='encerrada']")
    await joao.page.get_by_role("heading", name="Sua cópia do prontuário").wait_for()
    await snap(joao, "records-copia-paciente-celular")
    copy = await download(
        joao, joao.page.get_by_role("button", name="Baixar em PDF"), tmp_path / "copia.pdf"
    )
    assert copy.startswith(b"%PDF-")

    # Note, then the documents, next to it.
    await write_note(ana)
    await ana.page.get_by_role("link", name="Emitir atestado ou receita").click()
    await ana.page.wait_for_selector("body[data-screen='documentos']")
    atestado = await issue_atestado(ana, 2, "afastamento do trabalho")
    await expect(atestado.locator(".verificacao-doc")).to_have_attribute("data-valid", "true")
    await expect(atestado).to_contain_text("Assinatura válida")
    await expect(atestado.locator(".marcador-dev").first).to_contain_text("não ICP-Brasil")
    await snap(ana, "records-atestado-assinado")
    atestado_pdf = await download(
        ana, atestado.get_by_role("button", name="Baixar PDF"), tmp_path / "atestado.pdf"
    )
    assert atestado_pdf.startswith(b"%PDF-")
    receita = await issue_receita(
        ana, "Losartana 50 mg comprimido", "1 comprimido pela manhã", "30 comprimidos"
    )
    await expect(receita).to_contain_text("Assinatura válida")
    # Back on the page later: both are listed, and the signed PDF opens in the browser.
    await ana.page.reload()
    earlier = ana.page.locator("#documentos-anteriores li")
    await expect(earlier).to_have_count(2)
    async with ana.context.expect_page() as opened:
        await earlier.first.get_by_role("button", name="Ver PDF assinado").click()
    assert (await opened.value).url.startswith("blob:")

    # The record: session summary with every art. 450 field, in order, chain verified.
    await ana.page.get_by_role("link", name="Abrir o prontuário").click()
    await ana.page.wait_for_selector("body[data-screen='prontuario']")
    await expect(ana.page.locator("#integridade")).to_contain_text("Integridade verificada")
    kinds = await ana.page.locator("#registros > li").evaluate_all(
        "items => items.map(li => li.dataset.kind)"
    )
    assert kinds == ["consent", "session_summary", "clinical_note", "document", "document"]
    async with live_server.sessions() as db:
        held = await db.get(Consultation, uuid.UUID(consultation_id))
    assert held is not None and held.started_at is not None and held.ended_at is not None
    summary = ana.page.locator("li[data-kind='session_summary']")
    await expect(summary).to_contain_text("videochamada WebRTC")
    await expect(summary).to_contain_text("Teleconsulta")
    await expect(summary).to_contain_text(clinic.doctor.council_label)
    await expect(summary).to_contain_text(f"CBO {clinic.doctor.cbo}")
    await expect(summary).to_contain_text(f"CNES {clinic.ponto.cnes}")
    await expect(summary).to_contain_text(held.started_at.astimezone(BRT).strftime("%d/%m/%Y"))
    await expect(summary).to_contain_text(held.started_at.astimezone(BRT).strftime("%H:%M"))
    await expect(summary).to_contain_text(held.ended_at.astimezone(BRT).strftime("%H:%M"))
    await expect(summary).to_contain_text("Aceito, aceito pelo(a) paciente no navegador")
    await snap(ana, "records-prontuario")

    # A correction is a new entry linked to the one it corrects; the chain stays intact.
    note = ana.page.locator("li[data-kind='clinical_note']")
    await note.get_by_role("button", name="Corrigir o registro nº 3").click()
    await note.get_by_label("Motivo da correção").fill("Medicação anotada errada.")
    await note.get_by_label("Texto corrigido").fill("Plano: manter enalapril; retorno em 3 meses.")
    await note.get_by_role("button", name="Salvar correção").click()
    correction = ana.page.locator("li[data-kind='correction']")
    await expect(correction.locator("a.link-corrige")).to_have_text("registro nº 3 (Nota clínica)")
    await expect(ana.page.locator("li[data-kind='clinical_note']")).to_contain_text(
        "Este registro foi corrigido: veja registro nº 6"
    )
    await expect(ana.page.locator("#integridade")).to_contain_text("Integridade verificada")

    # The whole record as PDF and as a FHIR document Bundle.
    pdf = await download(
        ana, ana.page.get_by_role("button", name="Baixar prontuário (PDF)"), tmp_path / "p.pdf"
    )
    assert pdf.startswith(b"%PDF-")
    bundle = json.loads(
        await download(
            ana,
            ana.page.get_by_role("button", name="Baixar prontuário (FHIR JSON)"),
            tmp_path / "p.json",
        )
    )
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    encounters = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"
    ]
    assert [e["id"] for e in encounters] == [consultation_id]

    # Anyone checks the atestado on the public page (here: the patient's phone, no login).
    await joao.page.goto("/verificar")
    await joao.page.get_by_label("Arquivo PDF do documento").set_input_files(
        tmp_path / "atestado.pdf"
    )
    await joao.page.get_by_role("button", name="Verificar").click()
    result = joao.page.locator("#resultado-verificacao .verificacao-doc")
    await expect(result).to_have_attribute("data-valid", "true", timeout=20_000)
    await expect(result).to_contain_text("Assinatura válida")
    await expect(result).to_contain_text("não ICP-Brasil")
    await snap(joao, "records-verificar-documento-celular")

    # Someone with database access edits the session summary: the record view names it.
    async with live_server.sessions.begin() as db:
        await db.execute(text("DROP TRIGGER record_entry_no_update"))
        await db.execute(
            text(
                "UPDATE record_entry SET payload = replace(payload, 'videochamada', 'telefone') "
                "WHERE kind = 'session_summary'"
            )
        )
    await ana.page.get_by_role("button", name="Verificar de novo").click()
    await expect(ana.page.locator("#integridade")).to_contain_text(
        "Integridade comprometida · primeiro elo quebrado: registro nº 2 "
        "(o conteúdo do registro foi alterado depois de gravado)."
    )
    await snap(ana, "records-prontuario-adulterado")

    # A modified copy does not pass.
    tampered = bytearray(atestado_pdf)
    at = tampered.find(b"afastamento")
    if at < 0:  # the text may be compressed: flip a byte inside the signed range instead
        at = len(tampered) // 3
    tampered[at] ^= 0x01
    (tmp_path / "alterado.pdf").write_bytes(bytes(tampered))
    await joao.page.get_by_label("Arquivo PDF do documento").set_input_files(
        tmp_path / "alterado.pdf"
    )
    await joao.page.get_by_role("button", name="Verificar").click()
    await expect(result).to_have_attribute("data-valid", "false", timeout=20_000)


async def test_verbal_consent_registered_by_the_professional_lets_the_held_patient_in(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    visit = await doctor_and_invited_patient(live_server, browser, people)
    clinic = visit.clinic
    consultation = visit.consultation
    seat = visit.seat
    link = visit.link
    ana = visit.ana
    joao = visit.joao
    a = await enter_room_as_professional(ana, str(consultation.id))

    # The patient asks to answer aloud: they wait, held for consent, sending nothing.
    await joao.page.goto(link)
    await joao.page.get_by_role("button", name="Continuar").click()
    await joao.page.get_by_role("button", name="Prefiro responder ao profissional").click()
    await pass_device_check(joao)
    j = await wait_state(
        joao, "held for consent", lambda s: s["joined"] and s["holdReason"] == "consent_required"
    )
    assert not j["admitted"]
    await expect(joao.page.locator("#espera-motivo")).to_contain_text("consentimento (TCLE)")
    await snap(joao, "records-aguardando-consentimento-celular")

    # The professional reads the term aloud and records the verbal acceptance from the list.
    await ana.page.get_by_role("button", name="Ver participantes").click()
    register = ana.page.get_by_role(
        "button", name=f"Registrar consentimento de {seat.display_name}"
    )
    await register.click()
    dialog = ana.page.get_by_role("dialog")
    await expect(dialog.get_by_role("document", name="Texto do termo")).not_to_be_empty()
    await expect(dialog).to_contain_text("Versão 1")
    await expect(
        dialog.get_by_label("Verbalmente, nesta consulta (transcrito por mim)")
    ).to_be_checked()
    await snap(ana, "records-registrar-consentimento")
    await dialog.get_by_role("button", name="Registrar aceite").click()

    await wait_state(joao, "admitted", lambda s: s["admitted"])
    await assert_video_flows(ana, j["participantId"])
    await assert_video_flows(joao, a["participantId"])

    async with live_server.sessions() as db:
        consents = list(
            await db.scalars(select(Consent).where(Consent.consultation_id == consultation.id))
        )
    assert [(c.decision, c.channel) for c in consents] == [
        (ConsentDecision.ACCEPTED, ConsentChannel.VERBAL_TRANSCRIBED)
    ]
    assert consents[0].registered_by_council == clinic.doctor.council_label


async def test_the_rati_is_written_in_two_parts_and_both_show_in_the_record(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    clinic = await make_clinic(live_server.sessions)
    consultation = await make_video_consultation(
        live_server.sessions, clinic, modality=Modality.TELEINTERCONSULTA, specialist=True
    )
    ana = people.add(await new_person(browser, live_server.url, "ana"))
    bruno = people.add(await new_person(browser, live_server.url, "bruno"))

    # Part 1 by the solicitante, next to her note form.
    await log_in(ana, clinic.doctor.cpf, clinic.password)
    await ana.page.goto(f"/consultas/{consultation.id}/registro")
    part1 = ana.page.locator("#form-rati[data-part='solicitacao']")
    await part1.get_by_label("Pergunta clínica").fill("Ajustar anti-hipertensivo?")
    await part1.get_by_label("Resumo clínico").fill("PA 160/100 apesar de losartana 50 mg.")
    await part1.get_by_label("Código do motivo").fill("I10")
    await part1.get_by_role("button", name="Salvar a solicitação (RATI parte 1)").click()
    await ana.page.locator("#rati-salvo").wait_for()

    # Part 2 by the teleconsultor: blank answer is refused in the form, then saved.
    await log_in(bruno, clinic.specialist.cpf, clinic.password)
    await bruno.page.goto(f"/consultas/{consultation.id}/registro")
    part2 = bruno.page.locator("#form-rati[data-part='resposta']")
    await part2.get_by_role("button", name="Salvar a resposta (RATI parte 2)").click()
    await expect(part2.get_by_role("alert")).to_contain_text("Preencha a resposta")
    await part2.get_by_label("Resposta", exact=True).fill("Sim: associar anlodipino.")
    await part2.get_by_label("Recomendações").fill("Anlodipino 5 mg/dia; reavaliar em 30 dias.")
    await part2.get_by_label("Não: conduzir na atenção primária").check()
    await snap(bruno, "records-rati-resposta")
    await part2.get_by_role("button", name="Salvar a resposta (RATI parte 2)").click()
    await bruno.page.locator("#rati-salvo").wait_for()

    await ana.page.goto(f"/pacientes/{clinic.patient.id}/prontuario")
    rati = ana.page.locator("li[data-kind='recommendation']")
    await expect(rati).to_have_count(2)
    await expect(rati.nth(0)).to_contain_text("1 – Solicitação")
    await expect(rati.nth(0)).to_contain_text("CID-10 I10")
    await expect(rati.nth(1)).to_contain_text("2 – Resposta e recomendações")
    await expect(rati.nth(1)).to_contain_text(clinic.specialist.council_label)
    await expect(rati.nth(1)).to_contain_text("Não: conduzir na atenção primária")
    await expect(ana.page.locator("#integridade")).to_contain_text("Integridade verificada")


async def test_a_legal_representatives_consent_recorded_on_the_consultation_page_spares_the_patient_the_term(  # noqa: E501
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    visit = await doctor_and_invited_patient(live_server, browser, people)
    clinic = visit.clinic
    consultation = visit.consultation
    link = visit.link
    ana = visit.ana
    joao = visit.joao
    await ana.page.goto(f"/consultas/{consultation.id}")
    card = ana.page.locator("#consentimento-consulta")
    await expect(card.locator("#estado-consentimento")).to_contain_text("Ainda não registrado")
    await card.get_by_role(
        "button", name="Registrar consentimento verbal ou do representante legal"
    ).click()
    await card.get_by_label("Pelo representante legal").check()
    await card.get_by_role("button", name="Registrar aceite").click()
    await expect(card.get_by_role("alert")).to_contain_text(
        "Informe o nome e o parentesco ou vínculo do representante legal."
    )
    async with live_server.sessions() as db:
        assert (
            await db.scalar(select(Consent).where(Consent.consultation_id == consultation.id))
        ) is None
    await card.get_by_label("Nome do representante legal").fill("Maria da Silva")
    await card.get_by_label("Parentesco ou vínculo").fill("mãe")
    await snap(ana, "records-consentimento-representante")
    await card.get_by_role("button", name="Registrar aceite").click()
    await expect(card.locator("#estado-consentimento")).to_have_attribute(
        "data-decision", "accepted"
    )
    await expect(card.locator("#estado-consentimento")).to_contain_text(
        "Aceito, pelo representante legal"
    )

    # The patient's link skips the term: the decision is already on record.
    await joao.page.goto(link)
    await joao.page.get_by_role("button", name="Continuar").click()
    await joao.page.wait_for_selector("body[data-screen='verificacao']")
    assert "consentimento" not in (await joao.state())["screen"]

    # Found through "Prontuários" (on a phone-sized window): the consent entry names the
    # representative.
    await ana.page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    await ana.page.get_by_role("link", name="Prontuários").click()
    await ana.page.get_by_label("Buscar paciente").fill(clinic.patient.name.split()[0])
    await ana.page.get_by_role("button", name="Buscar").click()
    await ana.page.get_by_role("link", name=clinic.patient.name).click()
    consent = ana.page.locator("li[data-kind='consent']")
    await expect(consent).to_contain_text("Maria da Silva (mãe)")
    await expect(consent).to_contain_text(clinic.doctor.council_label)
    await snap(ana, "records-prontuario-celular")
