"""Read side of cases: the three worklists and the SLA flags the screens highlight."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.deadlines import is_due_soon, is_overdue
from server.cases.models import FINAL_STATUSES, Case, CaseStatus

WAITING_FOR_REGULATION = frozenset({CaseStatus.SUBMITTED, CaseStatus.IN_REGULATION})


@dataclass(frozen=True)
class Sla:
    due_at: datetime
    "The deadline that matters now: regulation while in regulation, then the answer's."
    overdue: bool
    due_soon: bool


def current_due(case: Case) -> datetime:
    if case.status in WAITING_FOR_REGULATION:
        return case.regulation_due_at
    return case.answer_due_at


def sla(case: Case, now: datetime) -> Sla:
    """Flags for open cases; an answered or finished case is never overdue any more."""
    due = current_due(case)
    if case.status in FINAL_STATUSES or case.status is CaseStatus.ANSWERED:
        return Sla(due, False, False)
    start = case.received_at
    return Sla(due, is_overdue(due, now), is_due_soon(start, due, now))


async def by_solicitante(db: AsyncSession, professional_id: uuid.UUID) -> Sequence[Case]:
    rows = await db.scalars(
        select(Case).where(Case.solicitante_id == professional_id).order_by(Case.received_at.desc())
    )
    return rows.all()


async def queue(
    db: AsyncSession, nucleo_id: uuid.UUID, *, include_final: bool = False
) -> Sequence[Case]:
    """The Núcleo's queue, most urgent first (sorted by the deadline that applies now)."""
    query = select(Case).where(Case.nucleo_id == nucleo_id)
    if not include_final:
        query = query.where(Case.status.not_in(FINAL_STATUSES))
    cases = list((await db.scalars(query)).all())
    cases.sort(key=lambda case: (current_due(case), case.received_at))
    return cases


async def inbox(db: AsyncSession, specialist_id: uuid.UUID) -> Sequence[Case]:
    rows = await db.scalars(
        select(Case)
        .where(Case.specialist_id == specialist_id, Case.status.not_in(FINAL_STATUSES))
        .order_by(Case.answer_due_at)
    )
    return rows.all()


async def open_cases(db: AsyncSession) -> Sequence[Case]:
    rows = await db.scalars(
        select(Case).where(Case.status.not_in([*FINAL_STATUSES, CaseStatus.ANSWERED]))
    )
    return rows.all()
