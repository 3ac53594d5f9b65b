"""Asynchronous teleconsultoria through the UI in real Chromium, against the real server:
solicitante (phone) → regulador → specialist → solicitante → SOF library → gestor reports."""

from __future__ import annotations

import re
from functools import partial

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.cases_flows import (
    DISGUISED_EXE,
    arrange_case,
    downloaded_bytes,
    make_case_world,
    open_from_nav,
    send_chat,
    snap_page,
    stored_copies,
    switch_user,
    tiny_png,
    wait_message,
    wait_status,
)
from tests.e2e.conftest import LiveServer, People
from tests.e2e.flows import log_in
from tests.e2e.harness import PHONE, Person, new_person, poll, wait_state

pytestmark = pytest.mark.browser

QUESTION = (
    "Paciente de 58 anos, hipertenso, com PA 170x100 mesmo com losartana 100 mg e "
    "hidroclorotiazida 25 mg. Vale associar anlodipino ou investigar causa secundária antes?"
)
ANSWER = (
    "Associe anlodipino 5 mg e reavalie em 4 semanas; se seguir acima da meta com três "
    "classes em dose plena, investigue hipertensão secundária (hiperaldosteronismo)."
)


async def test_a_case_goes_from_the_question_to_the_sof_library_and_the_reports(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    world = await make_case_world(live_server.sessions)
    clinic = world.clinic
    ana = people.add(
        await new_person(browser, live_server.url, "solicitante", viewport=PHONE, is_mobile=True)
    )
    team = people.add(await new_person(browser, live_server.url, "nucleo"))
    other = people.add(await new_person(browser, live_server.url, "outro"))

    # The solicitante opens a case about a registered patient, with an image attached.
    await log_in(ana, clinic.doctor.cpf, clinic.password)
    await open_from_nav(ana, "Meus casos", "casos")
    await ana.page.get_by_role("link", name="Novo caso").click()
    await ana.page.wait_for_selector("body[data-screen='novo-caso']")
    await expect(ana.page.get_by_label("Núcleo de Telessaúde")).to_have_value(str(clinic.nucleo.id))
    await ana.page.get_by_label("Especialidade").fill("Cardiologia")
    await ana.page.get_by_label("Pergunta ao especialista").fill(QUESTION)
    await ana.page.get_by_label("Paciente cadastrado", exact=True).check()
    await ana.page.locator("#busca-paciente").fill("João")
    await ana.page.locator(f"button.resultado:has-text('{clinic.patient.name}')").click()
    png = tiny_png()
    await ana.page.get_by_label("Anexos (opcional)").set_input_files(
        {"name": "ecg.png", "mimeType": "image/png", "buffer": png}
    )
    await snap_page(ana, "cases-01-novo-caso-celular")
    await ana.page.get_by_role("button", name="Enviar caso").click()
    await ana.page.wait_for_url(re.compile(r"/casos/[0-9a-f-]{36}$"))
    case_id = ana.page.url.rstrip("/").rsplit("/", 1)[-1]
    await wait_status(ana, case_id, "submitted")
    await expect(ana.page.locator("#caso-paciente")).to_have_text(
        f"Paciente: {clinic.patient.name}"
    )
    await expect(ana.page.locator("#lista-anexos li[data-attachment-id]")).to_have_count(1)
    await expect(ana.page.locator("#linha-tempo li")).to_have_count(1)
    # From here on the solicitante's page must update without any reload.
    await ana.page.evaluate("() => { window.__sameDocument = true; }")

    # The regulador finds it in the Núcleo's queue and assigns it to the cardiologist.
    await log_in(team, world.regulador.cpf, clinic.password)
    await open_from_nav(team, "Fila da regulação", "fila")
    row = team.page.locator(f"li[data-case-id='{case_id}']")
    await expect(row).to_contain_text("Prazo:")
    await row.get_by_role("link", name="Abrir").click()
    await wait_status(team, case_id, "submitted")
    await team.page.get_by_label("Atribuir a um especialista").select_option(
        str(clinic.specialist.id)
    )
    await team.page.get_by_role("button", name="Atribuir", exact=True).click()
    await wait_status(team, case_id, "assigned")

    # The specialist sees it in the inbox and asks in the chat; the solicitante gets it live.
    await switch_user(team, clinic.specialist.cpf, clinic.password)
    await open_from_nav(team, "Casos para responder", "caixa")
    await (
        team.page.locator(f"li[data-case-id='{case_id}']").get_by_role("link", name="Abrir").click()
    )
    await wait_status(team, case_id, "assigned")
    await wait_state(team, "case socket", lambda s: s["cases"]["socket"] == "connected")
    await send_chat(team, "Qual foi a creatinina e o potássio mais recentes?")
    asked = await wait_message(ana, "Qual foi a creatinina e o potássio mais recentes?")
    await send_chat(ana, "Creatinina 1,0 e potássio 3,4 na semana passada.")
    await wait_message(team, "Creatinina 1,0 e potássio 3,4 na semana passada.")
    ana_state = await ana.state()
    ids = [m["id"] for m in ana_state["cases"]["messages"]]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 2, ana_state["cases"]["messages"]
    assert asked["author"] == clinic.specialist.name
    assert ana_state["cases"]["pending"] == []

    # A Windows program renamed to .pdf is refused with the server's pt-BR words; nothing stored.
    await ana.page.get_by_label("Adicionar anexo").set_input_files(
        {"name": "exame.pdf", "mimeType": "application/pdf", "buffer": DISGUISED_EXE}
    )
    await ana.page.get_by_role("button", name="Enviar anexo").click()
    await expect(ana.page.locator("#anexo-retorno")).to_contain_text(
        "Tipo de arquivo não permitido"
    )
    await snap_page(ana, "cases-03-anexo-recusado-celular")
    await expect(ana.page.locator("#lista-anexos li[data-attachment-id]")).to_have_count(1)

    # The specialist downloads the attachment (authorised like the case): the same bytes.
    async with team.page.expect_download() as info:
        await team.page.get_by_role("button", name="Baixar ecg.png").click()
    assert await downloaded_bytes(await info.value) == png

    # The specialist attaches a report: it shows up in the solicitante's chat live, downloadable.
    pdf = b"%PDF-1.4\n% laudo de teste\n%%EOF\n"
    await team.page.get_by_label("Adicionar anexo").set_input_files(
        {"name": "laudo.pdf", "mimeType": "application/pdf", "buffer": pdf}
    )
    await team.page.get_by_role("button", name="Enviar anexo").click()
    chip = ana.page.locator("#caso-mensagens button.anexo-chip", has_text="laudo.pdf")
    await expect(chip).to_have_count(1)
    await expect(ana.page.locator("#lista-anexos li[data-attachment-id]")).to_have_count(2)
    async with ana.page.expect_download() as info:
        await chip.click()
    assert await downloaded_bytes(await info.value) == pdf

    # The specialist answers; the solicitante sees the answer arrive, then closes and rates.
    await team.page.get_by_label("Sua resposta").fill(ANSWER)
    await team.page.get_by_role("button", name="Enviar resposta").click()
    await wait_status(team, case_id, "answered")
    await snap_page(team, "cases-04-caso-especialista")
    await wait_status(ana, case_id, "answered")
    await expect(ana.page.locator("#caso-resposta")).to_have_text(ANSWER)
    await ana.page.get_by_label("5", exact=True).check()
    await ana.page.get_by_label("Sim", exact=True).check()
    await snap_page(ana, "cases-05-avaliacao-celular")
    await ana.page.get_by_role("button", name="Encerrar caso").click()
    await wait_status(ana, case_id, "closed")
    await expect(ana.page.locator("#caso-avaliacao")).to_contain_text("satisfação 5/5")
    actions = await ana.page.locator("#linha-tempo li").evaluate_all(
        "els => els.map(e => e.dataset.action)"
    )
    assert actions == ["submit", "assign", "answer", "close"]
    assert await ana.page.evaluate("() => window.__sameDocument === true")

    # The specialist turns it into a SOF and publishes it.
    await wait_status(team, case_id, "closed")
    await team.page.get_by_role("link", name="Transformar em SOF").click()
    await team.page.wait_for_selector("body[data-screen='sof-nova']")
    await team.page.get_by_label("Título").fill("Hipertensão resistente na atenção primária")
    await team.page.get_by_label("Referências").fill(
        "Diretrizes Brasileiras de Hipertensão Arterial – 2020. Arq Bras Cardiol."
    )
    await team.page.get_by_label("Palavras-chave").fill("hipertensão, resistente")
    await team.page.get_by_label("Códigos CIAP-2").fill("K86")
    await team.page.get_by_role("button", name="Salvar rascunho").click()
    await team.page.wait_for_selector("article.sof[data-status='draft']")
    await team.page.get_by_role("button", name="Publicar na biblioteca").click()
    await team.page.wait_for_selector("article.sof[data-status='published']")

    # Another professional finds it in the library by CIAP-2 code and reads it.
    await log_in(other, world.colleague.cpf, clinic.password)
    await open_from_nav(other, "Biblioteca SOF", "sof-biblioteca")
    await other.page.get_by_label("Buscar no texto").fill("anlodipino")
    await other.page.get_by_role("button", name="Buscar").click()
    await expect(other.page.locator("#sof-resultados li[data-sof-id]")).to_have_count(1)
    await other.page.get_by_label("Buscar no texto").fill("")
    await other.page.get_by_label("Código CIAP-2").fill("K86")
    await other.page.get_by_role("button", name="Buscar").click()
    await other.page.get_by_role("link", name="Hipertensão resistente na atenção primária").click()
    await other.page.wait_for_selector("article.sof[data-status='published']")
    await expect(other.page.locator("article.sof")).to_contain_text("anlodipino")
    await snap_page(other, "cases-06-sof")

    # The gestor sees the figures of that case and downloads the annual CSV.
    await switch_user(other, world.gestor.cpf, clinic.password)
    await open_from_nav(other, "Relatórios", "relatorios")
    await expect(other.page.locator("#ind-recebidos .indicador-valor")).to_have_text("1")
    await expect(other.page.locator("#ind-respondidos .indicador-valor")).to_have_text("1")
    await expect(other.page.locator("#ind-prazo .indicador-valor")).to_have_text("100%")
    await expect(other.page.locator("#ind-evitados .indicador-valor")).to_have_text("1")
    await expect(other.page.locator("#ind-satisfacao .indicador-valor")).to_have_text("5,0")
    bar = other.page.locator("#grafico-producao rect[data-modality='teleconsultoria']")
    await expect(bar).to_have_count(1)
    assert await bar.get_attribute("data-count") == "1"
    await snap_page(other, "cases-07-relatorios")

    # Queue deadlines: above 72 h in total is refused in pt-BR and nothing changes.
    prazos = other.page.locator("#form-prazos")
    await expect(prazos.locator("#prazo-atual")).to_contain_text("Total atual: 72 h")
    await prazos.get_by_label("Regulação (horas)").fill("48")
    await prazos.get_by_label("Especialista (horas)").fill("48")
    await prazos.get_by_role("button", name="Salvar prazos").click()
    await expect(prazos.get_by_role("alert")).to_contain_text("não pode passar de 72 horas")
    await expect(prazos.locator("#prazo-atual")).to_contain_text("Total atual: 72 h")
    await prazos.get_by_label("Regulação (horas)").fill("12")
    await prazos.get_by_role("button", name="Salvar prazos").click()
    await expect(prazos.locator("#prazo-atual")).to_contain_text("Total atual: 60 h")
    async with other.page.expect_download() as info:
        await other.page.get_by_role("button", name="Baixar CSV").click()
    csv = (await downloaded_bytes(await info.value)).decode("utf-8-sig")
    assert csv.startswith("Relatório anual de atividades;" + clinic.nucleo.name)
    assert "encaminhamentos_evitados;1" in csv
    assert re.search(r";teleconsultoria;async;[^\r\n]*;1\r\n", csv), csv


async def test_the_queue_highlights_deadlines_and_triage_asks_for_information_and_refuses(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    world = await make_case_world(live_server.sessions)
    clinic = world.clinic
    overdue = await arrange_case(live_server.sessions, world, "Dermatologia", received_hours_ago=30)
    soon = await arrange_case(live_server.sessions, world, "Endocrinologia", received_hours_ago=20)
    fresh = await arrange_case(live_server.sessions, world, "Neurologia")
    reg = people.add(await new_person(browser, live_server.url, "regulador"))
    ana = people.add(
        await new_person(browser, live_server.url, "solicitante", viewport=PHONE, is_mobile=True)
    )

    # Most urgent first; red (overdue) and yellow (near the deadline) say so in words too.
    await log_in(reg, world.regulador.cpf, clinic.password)
    await open_from_nav(reg, "Fila da regulação", "fila")
    rows = reg.page.locator("#casos-queue li[data-case-id]")
    await expect(rows).to_have_count(3)
    order = await rows.evaluate_all("els => els.map(e => e.dataset.caseId)")
    assert order == [overdue, soon, fresh]
    await expect(rows.nth(0)).to_have_class(re.compile(r"\bvencido\b"))
    await expect(rows.nth(0)).to_contain_text("Prazo vencido")
    await expect(rows.nth(1)).to_have_class(re.compile(r"\bproximo\b"))
    await expect(rows.nth(1)).to_contain_text("Prazo próximo")
    await expect(rows.nth(2)).not_to_have_class(re.compile(r"vencido|proximo"))
    await snap_page(reg, "cases-02-fila-regulacao")

    # The regulador asks for more information; the solicitante sees it live and answers.
    await log_in(ana, clinic.doctor.cpf, clinic.password)
    await ana.page.goto(f"/casos/{fresh}")
    await wait_status(ana, fresh, "submitted")
    await rows.nth(2).get_by_role("link", name="Abrir").click()
    await wait_status(reg, fresh, "submitted")
    await reg.page.get_by_label("Pedido ao solicitante ou motivo").fill(
        "Informe há quanto tempo começou a cefaleia e se há sinais de alarme."
    )
    await reg.page.get_by_role("button", name="Pedir mais informações").click()
    await wait_status(reg, fresh, "more_info_requested")
    await wait_status(ana, fresh, "more_info_requested")
    await expect(ana.page.locator("#linha-tempo li[data-action='request_info']")).to_contain_text(
        "sinais de alarme"
    )
    await ana.page.get_by_label("Informações complementares").fill(
        "Há três semanas, sem déficit focal, sem febre."
    )
    await ana.page.get_by_role("button", name="Enviar informações").click()
    await wait_status(ana, fresh, "submitted")
    await wait_status(reg, fresh, "submitted")  # info_provided reaches the regulador live

    # Refusing needs a reason (told in pt-BR before anything is sent); then it is refused.
    await reg.page.goto(f"/casos/{overdue}")
    await wait_status(reg, overdue, "submitted")
    await reg.page.get_by_role("button", name="Recusar o caso").click()
    await expect(reg.page.get_by_role("alert")).to_contain_text("Escreva o motivo")
    await wait_status(reg, overdue, "submitted")
    await reg.page.get_by_label("Pedido ao solicitante ou motivo").fill(
        "Fora do escopo do Núcleo: encaminhe pela regulação ambulatorial."
    )
    await reg.page.get_by_role("button", name="Recusar o caso").click()
    await wait_status(reg, overdue, "refused")
    await expect(reg.page.locator("#caso-detalhe")).to_contain_text("Motivo: Fora do escopo")

    # The solicitante's list shows the outcome of each case.
    await open_from_nav(ana, "Meus casos", "casos")
    await expect(ana.page.locator(f"li[data-case-id='{overdue}']")).to_have_attribute(
        "data-status", "refused"
    )
    await expect(ana.page.locator(f"li[data-case-id='{overdue}']")).to_contain_text("Recusado")
    await expect(ana.page.locator(f"li[data-case-id='{fresh}']")).to_contain_text("Enviado")
    await snap_page(ana, "cases-08-meus-casos-celular")


async def test_a_message_typed_offline_is_sent_once_on_reconnect_or_reload_and_missed_ones_arrive(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    world = await make_case_world(live_server.sessions)
    clinic = world.clinic
    case_id = await arrange_case(live_server.sessions, world, "Cardiologia", assigned=True)
    ana = people.add(await new_person(browser, live_server.url, "solicitante"))
    bruno = people.add(await new_person(browser, live_server.url, "especialista"))
    for person, who in ((ana, clinic.doctor), (bruno, clinic.specialist)):
        await log_in(person, who.cpf, clinic.password)
        await person.page.goto(f"/casos/{case_id}")
        await wait_status(person, case_id, "assigned")
        await wait_state(person, "case socket", lambda s: s["cases"]["socket"] == "connected")
    await send_chat(ana, "Bom dia, doutor.")
    await wait_message(bruno, "Bom dia, doutor.")

    # The solicitante's connection drops: what she types waits, what she misses is kept.
    await ana.page.evaluate("() => window.__telessaude.cases.offline()")
    await wait_state(ana, "socket down", lambda s: s["cases"]["socket"] == "disconnected")
    await send_chat(bruno, "Pode mandar o último ECG?")
    await send_chat(ana, "Envio o ECG à tarde.")
    await wait_state(
        ana,
        "message kept as not sent",
        lambda s: [p["state"] for p in s["cases"]["pending"]] == ["falhou"],
    )
    await expect(ana.page.locator("li.pendente")).to_contain_text("Sem conexão")
    assert await stored_copies(live_server.sessions, case_id, "Envio o ECG à tarde.") == 0

    # Back online: the missed message arrives and the kept one is sent, once.
    await ana.page.evaluate("() => window.__telessaude.cases.online()")
    await wait_message(ana, "Pode mandar o último ECG?")
    await wait_message(ana, "Envio o ECG à tarde.")
    await wait_message(bruno, "Envio o ECG à tarde.")
    state = await ana.state()
    assert state["cases"]["pending"] == []
    texts = [m["text"] for m in state["cases"]["messages"]]
    assert texts == ["Bom dia, doutor.", "Pode mandar o último ECG?", "Envio o ECG à tarde."]
    assert await stored_copies(live_server.sessions, case_id, "Envio o ECG à tarde.") == 1

    # Typed offline, then the page is reloaded: the tab kept it, and it is sent once with its id.
    await ana.page.evaluate("() => window.__telessaude.cases.offline()")
    await wait_state(ana, "socket down", lambda s: s["cases"]["socket"] == "disconnected")
    await send_chat(ana, "Mando também a receita.")
    kept = await wait_state(ana, "kept", lambda s: len(s["cases"]["pending"]) == 1)
    await ana.page.reload()
    await wait_message(ana, "Mando também a receita.")
    await wait_message(bruno, "Mando também a receita.")
    state = await ana.state()
    assert state["cases"]["pending"] == []
    sent = next(m for m in state["cases"]["messages"] if m["text"] == "Mando também a receita.")
    assert sent["clientMsgId"] == kept["cases"]["pending"][0]["clientMsgId"]
    assert await stored_copies(live_server.sessions, case_id, "Mando também a receita.") == 1


_SEEN_JS = """
() => {
  window.__seen = {};
  const list = document.getElementById('caso-mensagens');
  new MutationObserver(() => {
    for (const p of list.querySelectorAll('li[data-message-id] p')) {
      window.__seen[p.textContent] ??= Date.now();
    }
  }).observe(list, {childList: true, subtree: true});
}
"""


async def _seen_at(person: Person, text: str) -> int | None:
    seen: int | None = await person.page.evaluate("(t) => window.__seen[t] ?? null", text)
    return seen


_SEND_JS = """
(text) => {
  const box = document.getElementById('caso-texto');
  box.value = text;
  const at = Date.now();
  document.getElementById('form-chat').requestSubmit();
  return at;
}
"""


async def test_twenty_chat_messages_reach_the_other_browser_live_and_in_order(
    live_server: LiveServer, browser: Browser, people: People
) -> None:
    world = await make_case_world(live_server.sessions)
    clinic = world.clinic
    case_id = await arrange_case(live_server.sessions, world, "Pediatria", assigned=True)
    ana = people.add(await new_person(browser, live_server.url, "solicitante"))
    bruno = people.add(await new_person(browser, live_server.url, "especialista"))
    for person, who in ((ana, clinic.doctor), (bruno, clinic.specialist)):
        await log_in(person, who.cpf, clinic.password)
        await person.page.goto(f"/casos/{case_id}")
        await wait_state(person, "case socket", lambda s: s["cases"]["socket"] == "connected")
        await wait_state(person, "chat subscribed", lambda s: s["cases"]["caseId"] == case_id)
    await ana.page.evaluate(_SEEN_JS)
    latencies: list[int] = []
    for i in range(20):
        text = f"Mensagem de teste número {i}"
        sent_at: int = await bruno.page.evaluate(_SEND_JS, text)
        seen_at = await poll(
            f"{text} shown to the solicitante",
            partial(_seen_at, ana, text),
            lambda v: v is not None,
            within=5,
            interval=0.02,
        )
        assert seen_at is not None
        latencies.append(seen_at - sent_at)
    latencies.sort()
    p50, worst = latencies[len(latencies) // 2], latencies[-1]
    # Speed is a benchmark's business (bench/chat.py), not a pass/fail on a shared machine:
    # the figures are printed for whoever runs this with -s.
    print(f"case chat send→shown in the other browser: p50 {p50} ms, max {worst} ms (n=20)")
    texts = [m["text"] for m in (await ana.state())["cases"]["messages"]]
    assert texts == [f"Mensagem de teste número {i}" for i in range(20)]
