"""Production and SLA figures of a Núcleo (art. 457): sync sessions and async cases together.

Rows are aggregated in Python from a period's contacts: one Núcleo-year is at most tens of
thousands of rows, and doing it here keeps month boundaries in Brazil's local time identical
on SQLite and PostgreSQL. Months are those of America/Sao_Paulo (a session ending at 22:30 on
31 January in Brasília counts for January, though it is February in UTC).
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.deadlines import local
from server.cases.models import Case
from server.db.models import Consultation, ConsultationMode, ConsultationStatus, Ponto


@dataclass(frozen=True)
class ProductionRow:
    month: str
    "YYYY-MM in America/Sao_Paulo."
    modality: str
    mode: str
    "sync (video session ended) or async (case answered)."
    nucleo_id: uuid.UUID
    ponto_id: uuid.UUID | None
    ponto_name: str
    ponto_cnes: str
    count: int


@dataclass(frozen=True)
class SlaFigures:
    received: int
    answered: int
    answered_within_deadline: int
    open_overdue: int
    answer_hours_p50: float | None
    answer_hours_p90: float | None

    @property
    def share_within_deadline(self) -> float | None:
        return None if not self.answered else self.answered_within_deadline / self.answered


@dataclass(frozen=True)
class Outcomes:
    closed_rated: int
    referrals_avoided: int
    satisfaction_mean: float | None
    satisfaction_counts: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ProductionReport:
    nucleo_id: uuid.UUID
    start: datetime
    end: datetime
    rows: list[ProductionRow]
    sla: SlaFigures
    outcomes: Outcomes


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (what a person expects: an actual observed value)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def month_of(moment: datetime) -> str:
    return local(moment).strftime("%Y-%m")


async def production_report(
    db: AsyncSession, nucleo_id: uuid.UUID, start: datetime, end: datetime, now: datetime
) -> ProductionReport:
    counts: Counter[tuple[str, str, str, uuid.UUID | None]] = Counter()
    sync = await db.execute(
        select(Consultation.modality, Consultation.ponto_id, Consultation.ended_at).where(
            Consultation.nucleo_id == nucleo_id,
            Consultation.mode == ConsultationMode.SYNC,
            Consultation.status == ConsultationStatus.ENDED,
            Consultation.ended_at >= start,
            Consultation.ended_at < end,
        )
    )
    for modality, ponto_id, ended_at in sync:
        counts[(month_of(ended_at), modality.value, "sync", ponto_id)] += 1
    answered = await db.execute(
        select(Consultation.modality, Case.ponto_id, Case.answered_at)
        .join(Consultation, Consultation.id == Case.consultation_id)
        .where(Case.nucleo_id == nucleo_id, Case.answered_at >= start, Case.answered_at < end)
    )
    for modality, ponto_id, answered_at in answered:
        counts[(month_of(answered_at), modality.value, "async", ponto_id)] += 1
    ponto_ids = {key[3] for key in counts if key[3] is not None}
    pontos = {
        p.id: p for p in (await db.scalars(select(Ponto).where(Ponto.id.in_(ponto_ids)))).all()
    }
    rows = [
        ProductionRow(
            month,
            modality,
            mode,
            nucleo_id,
            ponto_id,
            pontos[ponto_id].name if ponto_id in pontos else "",
            pontos[ponto_id].cnes if ponto_id in pontos else "",
            count,
        )
        for (month, modality, mode, ponto_id), count in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1], item[0][2], str(item[0][3]))
        )
    ]
    cases = (
        await db.scalars(
            select(Case).where(
                Case.nucleo_id == nucleo_id, Case.received_at >= start, Case.received_at < end
            )
        )
    ).all()
    return ProductionReport(nucleo_id, start, end, rows, sla_figures(cases, now), outcomes(cases))


def sla_figures(cases: Sequence[Case], now: datetime) -> SlaFigures:
    done = [c for c in cases if c.answered_at is not None]
    hours = [(c.answered_at - c.received_at).total_seconds() / 3600 for c in done if c.answered_at]
    within = sum(1 for c in done if c.answered_at and c.answered_at <= c.answer_due_at)
    open_overdue = sum(
        1 for c in cases if c.answered_at is None and c.closed_at is None and now > c.answer_due_at
    )
    p50, p90 = percentile(hours, 50), percentile(hours, 90)
    return SlaFigures(
        received=len(cases),
        answered=len(done),
        answered_within_deadline=within,
        open_overdue=open_overdue,
        answer_hours_p50=None if p50 is None else round(p50, 2),
        answer_hours_p90=None if p90 is None else round(p90, 2),
    )


def outcomes(cases: Sequence[Case]) -> Outcomes:
    rated = [c for c in cases if c.satisfaction is not None]
    scores = [c.satisfaction for c in rated if c.satisfaction is not None]
    return Outcomes(
        closed_rated=len(rated),
        referrals_avoided=sum(1 for c in rated if c.referral_avoided),
        satisfaction_mean=round(sum(scores) / len(scores), 2) if scores else None,
        satisfaction_counts={score: scores.count(score) for score in range(1, 6)},
    )
