"""What a professional does with the prontuário screens, step by step (tests/e2e/test_records)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Locator

from tests.e2e.harness import Person


async def download(person: Person, button: Locator, target: Path) -> bytes:
    """Click a download button (the client saves a blob) and return the file's bytes."""
    async with person.page.expect_download() as info:
        await button.click()
    file = await info.value
    await file.save_as(target)
    return await asyncio.to_thread(target.read_bytes)


async def write_note(person: Person) -> None:
    page = person.page
    await page.wait_for_selector("#form-nota")
    await page.get_by_label("Código do motivo").first.fill("K86")
    await page.get_by_label("Descrição").first.fill("Hipertensão sem complicações")
    await page.get_by_label("S – Subjetivo (queixa e história)").fill("Sem queixas.")
    await page.get_by_label("A – Avaliação").fill("Pressão controlada.")
    await page.get_by_label("P – Plano").fill("Manter losartana; retorno em 3 meses.")
    await page.get_by_role("button", name="Salvar no prontuário").click()
    await page.get_by_text("Nota clínica salva").first.wait_for()


async def issue_atestado(person: Person, days: int, purpose: str) -> Locator:
    page = person.page
    await page.get_by_label("Dias de afastamento").fill(str(days))
    await page.get_by_label("Finalidade").fill(purpose)
    await page.get_by_role("button", name="Emitir e assinar atestado").click()
    card = page.locator(".documento-emitido[data-kind='atestado']")
    await card.wait_for(timeout=30_000)
    return card


async def issue_receita(person: Person, medication: str, use: str, quantity: str) -> Locator:
    page = person.page
    form = page.locator("#form-receita")
    await form.get_by_label("Medicamento (nome, concentração e forma)").fill(medication)
    await form.get_by_label("Modo de usar").fill(use)
    await form.get_by_label("Quantidade").fill(quantity)
    await page.get_by_role("button", name="Emitir e assinar receita").click()
    card = page.locator(".documento-emitido[data-kind='receita']")
    await card.wait_for(timeout=30_000)
    return card
