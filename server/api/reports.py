"""HTTP API of gestor reports: production and SLA figures, and the annual activity report.

Restricted to the gestor of the Núcleo. The figures are aggregates without patient data;
each request still leaves an audit event (who exported what, when).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from server.api.cases import case_errors
from server.api.errors import forbidden, not_found
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_query
from server.audit import record_audit
from server.auth.caller import require_professional
from server.cases.deadlines import BRAZIL_TZ
from server.db.base import utcnow
from server.db.models import AccountRole, Nucleo
from server.keys import DB_SESSIONS
from server.reports.annual import to_csv, to_pdf
from server.reports.production import ProductionReport, production_report

routes = web.RouteTableDef()
TAG = "reports"

MAX_PERIOD_DAYS = 3 * 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


class ProductionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nucleo_id: uuid.UUID
    start: date = Field(alias="from", examples=[date(2026, 1, 1)])
    end: date = Field(alias="to", examples=[date(2026, 12, 31)])
    "Inclusive, in Brazil's local calendar."

    @field_validator("start", "end")
    @classmethod
    def _bounded(cls, day: date) -> date:
        # Bounded like AnnualQuery's year: the day after 9999-12-31 does not exist (was a 500).
        if not FIRST_DAY <= day <= LAST_DAY:
            raise PydanticCustomError(
                "date_out_of_range", "data fora do intervalo aceito (de 2000-01-01 a 2100-12-31)"
            )
        return day

    @model_validator(mode="after")
    def _ordered(self) -> ProductionQuery:
        if self.end < self.start:
            raise ValueError("a data final deve ser igual ou posterior à inicial")
        if (self.end - self.start).days > MAX_PERIOD_DAYS:
            raise ValueError("período longo demais (máximo de três anos)")
        return self


class AnnualQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nucleo_id: uuid.UUID
    year: int = Field(ge=2000, le=2100)
    format: Literal["pdf", "csv", "json"] = "pdf"


class ProductionRowOut(BaseModel):
    month: str
    modality: str
    mode: str
    nucleo_id: uuid.UUID
    ponto_id: uuid.UUID | None
    ponto_name: str
    ponto_cnes: str
    count: int


class SlaOut(BaseModel):
    received: int
    answered: int
    answered_within_deadline: int
    share_within_deadline: float | None
    open_overdue: int
    answer_hours_p50: float | None
    answer_hours_p90: float | None


class OutcomesOut(BaseModel):
    closed_rated: int
    referrals_avoided: int
    satisfaction_mean: float | None
    satisfaction_counts: dict[str, int]


class ProductionReportOut(BaseModel):
    nucleo_id: uuid.UUID
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    rows: list[ProductionRowOut]
    sla: SlaOut
    outcomes: OutcomesOut


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=BRAZIL_TZ)


def report_json(report: ProductionReport) -> dict[str, Any]:
    sla, outcome = report.sla, report.outcomes
    return {
        "nucleo_id": str(report.nucleo_id),
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "rows": [
            {
                "month": r.month,
                "modality": r.modality,
                "mode": r.mode,
                "nucleo_id": str(r.nucleo_id),
                "ponto_id": None if r.ponto_id is None else str(r.ponto_id),
                "ponto_name": r.ponto_name,
                "ponto_cnes": r.ponto_cnes,
                "count": r.count,
            }
            for r in report.rows
        ],
        "sla": {
            "received": sla.received,
            "answered": sla.answered,
            "answered_within_deadline": sla.answered_within_deadline,
            "share_within_deadline": sla.share_within_deadline,
            "open_overdue": sla.open_overdue,
            "answer_hours_p50": sla.answer_hours_p50,
            "answer_hours_p90": sla.answer_hours_p90,
        },
        "outcomes": {
            "closed_rated": outcome.closed_rated,
            "referrals_avoided": outcome.referrals_avoided,
            "satisfaction_mean": outcome.satisfaction_mean,
            "satisfaction_counts": {str(k): v for k, v in outcome.satisfaction_counts.items()},
        },
    }


def _gestor_of(request: web.Request, nucleo_id: uuid.UUID) -> Any:
    caller = require_professional(request, AccountRole.GESTOR)
    if caller.nucleo_id != nucleo_id:
        raise forbidden("Somente o gestor do Núcleo acessa seus relatórios.")
    return caller


@endpoint(
    routes, "GET", "/api/reports/production", summary="Produção e prazos do Núcleo (gestor)",
    tag=TAG, query=ProductionQuery, response=ProductionReportOut,
)  # fmt: skip
@case_errors
async def production(request: web.Request) -> web.Response:
    query = parse_query(request, ProductionQuery)
    caller = _gestor_of(request, query.nucleo_id)
    start = local_midnight(query.start)
    end = local_midnight(query.end + timedelta(days=1))
    async with request.app[DB_SESSIONS].begin() as db:
        report = await production_report(db, query.nucleo_id, start, end, utcnow())
        record_audit(db, caller, "read", "production_report", query.nucleo_id, request=request)
    return json_response(report_json(report))


@endpoint(
    routes, "GET", "/api/reports/annual", summary="Relatório anual de atividades (gestor)",
    tag=TAG, query=AnnualQuery, response=ProductionReportOut,
    # JSON first: schemathesis 3 checks a response against the first media type's schema only.
    content_types=("application/json", "application/pdf", "text/csv"),
)  # fmt: skip
@case_errors
async def annual(request: web.Request) -> web.StreamResponse:
    query = parse_query(request, AnnualQuery)
    caller = _gestor_of(request, query.nucleo_id)
    start = local_midnight(date(query.year, 1, 1))
    end = local_midnight(date(query.year + 1, 1, 1))
    now = utcnow()
    async with request.app[DB_SESSIONS].begin() as db:
        nucleo = await db.get(Nucleo, query.nucleo_id)
        if nucleo is None:
            raise not_found("Núcleo")
        report = await production_report(db, query.nucleo_id, start, end, now)
        record_audit(
            db,
            caller,
            "export",
            "annual_report",
            query.nucleo_id,
            request=request,
            detail=f"{query.year} {query.format}",
        )
    filename = f"relatorio-anual-{nucleo.cnes}-{query.year}"
    if query.format == "json":
        return json_response(report_json(report))
    if query.format == "csv":
        return web.Response(
            body=to_csv(report, nucleo, query.year).encode("utf-8-sig"),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return web.Response(
        body=to_pdf(report, nucleo, query.year, now),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'},
    )
