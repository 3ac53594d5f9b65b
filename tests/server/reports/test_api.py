"""Gestor reports: sync and async production together, SLA percentiles, annual PDF and CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cases.models import Case
from server.db.models import ConsultationStatus, Modality
from server.reports.production import percentile
from tests.server.cases.world import act, answered_case, make_world
from tests.support.factories import TestClientT, auth_header, make_consultation


def test_percentiles_are_nearest_rank_observed_values() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 90) == 5.0
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 90) == 9.0


async def test_production_counts_sessions_and_cases_by_month_ponto_and_modality_with_sla(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    # Two cases answered: one in 10 h (within 72 h), one in 80 h (late).
    fast = await answered_case(client, world)
    slow = await answered_case(client, world)
    await act(
        client,
        world.solicitante,
        fast["id"],
        "close",
        {"satisfaction": 5, "referral_avoided": True},
    )
    await act(
        client,
        world.solicitante,
        slow["id"],
        "close",
        {"satisfaction": 3, "referral_avoided": False},
    )
    answered_at = datetime(2025, 3, 15, 15, 0, tzinfo=UTC)
    async with sessions.begin() as db:
        for case_id, hours in ((fast["id"], 10), (slow["id"], 80)):
            case = await db.get(Case, uuid.UUID(case_id))
            assert case is not None
            case.received_at = answered_at - timedelta(hours=hours)
            case.answer_due_at = case.received_at + timedelta(hours=72)
            case.answered_at = answered_at
        # A video teleconsulta that ended at 23:30 on 31 March in Brasília (April in UTC).
        session = await make_consultation(
            db,
            world.solicitante,
            nucleo=world.nucleo,
            modality=Modality.TELECONSULTA,
            ponto_id=world.ponto.id,
        )
        session.status = ConsultationStatus.ENDED
        session.started_at = datetime(2025, 4, 1, 2, 0, tzinfo=UTC)
        session.ended_at = datetime(2025, 4, 1, 2, 30, tzinfo=UTC)
    response = await client.get(
        f"/api/reports/production?nucleo_id={world.nucleo.id}&from=2025-01-01&to=2025-12-31",
        headers=auth_header(client, world.gestor),
    )
    report = await response.json()
    assert response.status == 200, report
    rows = {
        (r["month"], r["modality"], r["mode"], r["ponto_id"]): r["count"] for r in report["rows"]
    }
    ponto = str(world.ponto.id)
    assert rows == {
        ("2025-03", "teleconsultoria", "async", ponto): 2,
        ("2025-03", "teleconsulta", "sync", ponto): 1,
    }
    assert report["sla"]["answered"] == 2
    assert report["sla"]["answered_within_deadline"] == 1
    assert report["sla"]["share_within_deadline"] == 0.5
    assert report["sla"]["answer_hours_p50"] == 10.0
    assert report["sla"]["answer_hours_p90"] == 80.0
    assert report["outcomes"]["referrals_avoided"] == 1
    assert report["outcomes"]["satisfaction_mean"] == 4.0


async def test_the_annual_report_downloads_as_a_ptbr_pdf_and_a_csv(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    await answered_case(client, world)
    year = datetime.now(UTC).year
    base = f"/api/reports/annual?nucleo_id={world.nucleo.id}&year={year}"
    pdf = await client.get(base + "&format=pdf", headers=auth_header(client, world.gestor))
    assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf"
    body = await pdf.read()
    assert body.startswith(b"%PDF-") and len(body) > 1500
    csv = await client.get(base + "&format=csv", headers=auth_header(client, world.gestor))
    text = (await csv.read()).decode("utf-8-sig")
    assert text.startswith("Relatório anual de atividades;")
    assert ";teleconsultoria;async;" in text
    assert "casos_respondidos;1" in text


async def test_reports_are_for_the_gestor_of_that_nucleo_only(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    for who in (world.regulador, world.outsider, world.solicitante):
        response = await client.get(
            f"/api/reports/production?nucleo_id={world.nucleo.id}&from=2025-01-01&to=2025-12-31",
            headers=auth_header(client, who),
        )
        assert response.status == 403
    backwards = await client.get(
        f"/api/reports/production?nucleo_id={world.nucleo.id}&from=2025-12-31&to=2025-01-01",
        headers=auth_header(client, world.gestor),
    )
    assert backwards.status == 422
