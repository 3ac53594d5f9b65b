"""What a person does in the web client, step by step, as the tests and the benchmark need it."""

from __future__ import annotations

from tests.e2e.harness import Person, wait_state


async def log_in(person: Person, cpf: str, password: str) -> None:
    page = person.page
    await page.goto("/login")
    await page.get_by_label("CPF").fill(cpf)
    await page.get_by_label("Senha").fill(password)
    await page.get_by_role("button", name="Entrar", exact=True).click()
    await page.wait_for_url("**/agenda")


async def pass_device_check(person: Person) -> None:
    """Continue from the device check once it has a stream (preview or audio-only)."""
    page = person.page
    await page.wait_for_selector("body[data-screen='verificacao']")
    button = page.locator("#btn-continuar")
    await page.wait_for_function(
        "() => !document.querySelector('.mensagens')?.textContent?.includes('Verificando')"
    )
    await button.click()


async def enter_room_as_professional(person: Person, consultation_id: str) -> dict[str, object]:
    await person.page.goto(f"/consultas/{consultation_id}/sala")
    await pass_device_check(person)
    return await wait_state(person, "joined", lambda s: s.get("joined") is True)
