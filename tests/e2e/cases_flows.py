"""What people do on the case screens (asynchronous teleconsultoria), for test_cases.py."""

from __future__ import annotations

import asyncio
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Download
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cases import service
from server.cases.models import Case
from server.chat.models import ChatMessage
from server.chat.store import case_channel
from server.db.models import AccountRole, Professional
from tests.e2e.flows import log_in
from tests.e2e.harness import Person, poll, wait_state
from tests.e2e.world import Clinic, make_clinic
from tests.support.factories import make_professional, professional_caller


@dataclass
class CaseWorld:
    clinic: Clinic
    regulador: Professional
    gestor: Professional
    colleague: Professional
    "Another clinician (at another Ponto) who only reads the SOF library."


async def make_case_world(sessions: async_sessionmaker[AsyncSession]) -> CaseWorld:
    clinic = await make_clinic(sessions)
    async with sessions.begin() as db:
        regulador = await make_professional(
            db, nucleo=clinic.nucleo, is_regulador=True, name="Enf. Carla Reguladora"
        )
        gestor = await make_professional(
            db, role=AccountRole.GESTOR, nucleo=clinic.nucleo, name="Gestora Diana Prado"
        )
        colleague = await make_professional(db, name="Dr. Eduardo Colega")
    return CaseWorld(clinic, regulador, gestor, colleague)


def tiny_png() -> bytes:
    """A real 1×1 PNG (the server sniffs content, so it must be one)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# A Windows executable's first bytes under a PDF's name: what the server must refuse.
DISGUISED_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 240


async def switch_user(person: Person, cpf: str, password: str) -> None:
    """Same tab, another account: the login overwrites the tab's session."""
    await person.page.evaluate("() => sessionStorage.clear()")
    await log_in(person, cpf, password)


async def open_from_nav(person: Person, link: str, screen: str) -> None:
    await person.page.get_by_role("link", name=link, exact=True).click()
    await person.page.wait_for_selector(f"body[data-screen='{screen}']")


async def case_status(person: Person, case_id: str) -> str | None:
    state = await person.state()
    cases: dict[str, Any] = state.get("cases", {})
    return cases.get("status") if cases.get("caseId") == case_id else None


async def wait_status(person: Person, case_id: str, status: str, within: float = 15) -> None:
    await poll(
        f"{person.name}: case {case_id} {status}",
        lambda: case_status(person, case_id),
        lambda s: s == status,
        within=within,
    )


async def wait_message(person: Person, text: str, within: float = 10) -> dict[str, Any]:
    state = await wait_state(
        person,
        f"chat message {text!r} stored and shown",
        lambda s: any(m["text"] == text for m in s.get("cases", {}).get("messages", [])),
        within=within,
    )
    message: dict[str, Any] = next(m for m in state["cases"]["messages"] if m["text"] == text)
    return message


async def send_chat(person: Person, text: str) -> None:
    await person.page.get_by_label("Escreva uma mensagem para o caso").fill(text)
    await person.page.get_by_role("button", name="Enviar mensagem").click()


async def arrange_case(
    sessions: async_sessionmaker[AsyncSession],
    world: CaseWorld,
    specialty: str,
    *,
    received_hours_ago: float = 0,
    assigned: bool = False,
) -> str:
    """A case submitted by the clinic's doctor some hours ago (as the service stores it)."""
    received = datetime.now(UTC) - timedelta(hours=received_hours_ago)
    async with sessions.begin() as db:
        outcome = await service.submit(
            db,
            professional_caller(world.clinic.doctor),
            service.NewCase(
                world.clinic.nucleo.id,
                specialty,
                f"Dúvida de {specialty.lower()} sobre um paciente adulto da área da UBS.",
                patient_age_years=47,
            ),
            received,
        )
        case: Case = outcome.case
        if assigned:
            await service.assign(
                db, professional_caller(world.regulador), case, world.clinic.specialist.id, received
            )
        return str(case.id)


async def stored_copies(sessions: async_sessionmaker[AsyncSession], case_id: str, text: str) -> int:
    import uuid

    async with sessions() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(
                ChatMessage.channel == case_channel(uuid.UUID(case_id)),
                ChatMessage.text == text,
            )
        )
    return int(count or 0)


async def snap_page(person: Person, name: str) -> None:
    """A full-page screenshot for docs/ when TELESSAUDE_SCREENSHOTS names a directory."""
    import os

    target = os.environ.get("TELESSAUDE_SCREENSHOTS")
    if target:
        os.makedirs(target, exist_ok=True)
        await person.page.screenshot(path=os.path.join(target, f"{name}.png"), full_page=True)


async def downloaded_bytes(download: Download) -> bytes:
    path = await download.path()
    return await asyncio.to_thread(Path(path).read_bytes)
