"""What a person does in the web client, step by step, as the tests and the benchmark need it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from playwright.async_api import Browser

from server.db.models import Consultation, ConsultationParticipant
from tests.e2e.harness import PHONE, Person, new_person, wait_state
from tests.e2e.world import (
    Clinic,
    make_clinic,
    make_invite,
    make_video_consultation,
    patient_participant,
)

if TYPE_CHECKING:  # the fixtures' types only: flows are also used outside pytest (bench/)
    from tests.e2e.conftest import LiveServer, People


async def log_in(person: Person, cpf: str, password: str) -> None:
    page = person.page
    await page.goto("/login")
    await page.get_by_label("CPF").fill(cpf)
    await page.get_by_label("Senha").fill(password)
    await page.get_by_role("button", name="Entrar", exact=True).click()
    await page.wait_for_url("**/agenda")


@dataclass
class InvitedVisit:
    """A video consultation with the doctor (Ana) logged in and the patient's invite link."""

    clinic: Clinic
    consultation: Consultation
    seat: ConsultationParticipant
    link: str
    ana: Person
    joao: Person
    "the patient, on a phone-sized page, not yet on the link"


async def doctor_and_invited_patient(
    live_server: LiveServer, browser: Browser, people: People
) -> InvitedVisit:
    clinic = await make_clinic(live_server.sessions)
    consultation = await make_video_consultation(live_server.sessions, clinic)
    seat = await patient_participant(live_server.sessions, consultation)
    link = "/entrar/" + await make_invite(
        live_server.sessions, consultation, seat.id, clinic.doctor
    )
    ana = people.add(await new_person(browser, live_server.url, "ana"))
    joao = people.add(
        await new_person(browser, live_server.url, "joao", viewport=PHONE, is_mobile=True)
    )
    await log_in(ana, clinic.doctor.cpf, clinic.password)
    return InvitedVisit(clinic, consultation, seat, link, ana, joao)


async def pass_device_check(person: Person) -> None:
    """Continue from the device check once it has a stream (preview or audio-only)."""
    page = person.page
    await page.wait_for_selector("body[data-screen='verificacao']")
    button = page.locator("#btn-continuar")
    await page.wait_for_function(
        "() => !document.querySelector('.mensagens')?.textContent?.includes('Verificando')"
    )
    await button.click()


async def enter_room_as_professional(person: Person, consultation_id: str) -> dict[str, Any]:
    await person.page.goto(f"/consultas/{consultation_id}/sala")
    await pass_device_check(person)
    return await wait_state(person, "joined", lambda s: s.get("joined") is True)


async def create_consultation(
    person: Person, patient_name: str, modality: str = "teleconsulta"
) -> str:
    """Fill the create form; returns the new consultation id (from the URL it lands on)."""
    page = person.page
    await page.get_by_role("link", name="Nova consulta").first.click()
    await page.wait_for_selector("body[data-screen='nova-consulta']")
    await page.get_by_label("Modalidade").select_option(modality)
    await page.get_by_label("Motivo ou título (opcional)").fill("Retorno de hipertensão")
    await page.get_by_label("Paciente", exact=True).fill(patient_name.split()[0])
    await page.locator(f"button.resultado:has-text('{patient_name}')").click()
    await page.get_by_role("button", name="Agendar consulta").click()
    await page.wait_for_selector("body[data-screen='consulta']")
    return page.url.rstrip("/").rsplit("/", 1)[-1]


async def issue_patient_link(person: Person) -> str:
    page = person.page
    await page.get_by_role("button", name="Gerar link do paciente").click()
    field = page.locator("#link-paciente")
    await field.wait_for()
    link: str = await field.input_value()
    return link


async def open_invite_and_accept(person: Person, link: str) -> None:
    page = person.page
    await page.goto(link)
    await page.get_by_role("button", name="Continuar").click()
    await page.wait_for_selector("body[data-screen='consentimento']")
    await page.get_by_role("button", name="Li e aceito").click()
    await pass_device_check(person)
    await wait_state(person, "joined", lambda s: s.get("joined") is True)
