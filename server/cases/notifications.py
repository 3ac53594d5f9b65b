"""Telling people about their cases: in-app in real time, and by e-mail when SMTP is set.

In-app: a ``case_event`` on the ``/cases`` Socket.IO namespace, to the per-user room
``user:<professional id>`` every connected socket of that professional joins.
E-mail: stdlib ``smtplib`` in a worker thread (a slow relay never blocks the event loop).
Neither carries clinical content: only that something happened to case N and a link. A
failure to notify is logged and swallowed: the case has already committed, and the screens
show the same state on the next load.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import uuid
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.cases.service import STATUS_PT, Notice
from server.db.models import Professional
from server.keys import DB_SESSIONS, SETTINGS, SIO
from server.settings import Settings

logger = logging.getLogger(__name__)

NAMESPACE = "/cases"
SMTP_TIMEOUT_S = 10.0


def user_room(professional_id: uuid.UUID | str) -> str:
    return f"user:{professional_id}"


def case_room(case_id: uuid.UUID | str) -> str:
    return f"case:{case_id}"


def notice_payload(notice: Notice) -> dict[str, Any]:
    return {
        "event": notice.event,
        "case_id": str(notice.case_id),
        "status": notice.status.value,
        "message": notice.subject_ptbr,
    }


def email_for(notice: Notice, name: str, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[Telessaúde] {notice.subject_ptbr}"
    message["From"] = settings.smtp_from or f"telessaude@{settings.host}"
    link = f"{settings.effective_public_url}/casos/{notice.case_id}"
    message.set_content(
        f"Olá, {name}.\n\n"
        f"{notice.subject_ptbr} (caso {str(notice.case_id)[:8]}, situação: "
        f"{STATUS_PT[notice.status]}).\n\n"
        f"Acesse o caso em: {link}\n\n"
        "Por sigilo, esta mensagem não contém dados clínicos.\n"
    )
    return message


def _send_mail(settings: Settings, messages: Sequence[tuple[str, EmailMessage]]) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
        for to, message in messages:
            message["To"] = to
            smtp.send_message(message)


async def deliver(app: web.Application, notices: Iterable[Notice]) -> None:
    """Send every notice in-app and, when configured, by e-mail. Call after commit."""
    notices = [n for n in notices if n.recipients]
    if not notices:
        return
    sio: Any = app.get(SIO)
    if sio is not None:
        for notice in notices:
            for recipient in notice.recipients:
                try:
                    await sio.emit(
                        "case_event",
                        notice_payload(notice),
                        room=user_room(recipient),
                        namespace=NAMESPACE,
                    )
                except Exception:  # a dead socket must not break the request that committed
                    logger.exception("in-app notification failed for case %s", notice.case_id)
    settings = app[SETTINGS]
    mailed = [n for n in notices if n.email]
    if settings.smtp_host and mailed:
        await _email(app, settings, mailed)


async def _email(app: web.Application, settings: Settings, notices: list[Notice]) -> None:
    ids = {r for n in notices for r in n.recipients}
    async with app[DB_SESSIONS]() as db:
        rows = await db.execute(
            select(Professional.id, Professional.name, Professional.email).where(
                Professional.id.in_(ids), Professional.email.is_not(None)
            )
        )
        people = {row.id: (row.name, row.email) for row in rows}
    messages = [
        (people[r][1], email_for(n, people[r][0], settings))
        for n in notices
        for r in n.recipients
        if r in people
    ]
    if not messages:
        return
    try:
        await asyncio.to_thread(_send_mail, settings, messages)
    except (OSError, smtplib.SMTPException):
        logger.exception("e-mail notification failed (%d messages)", len(messages))
