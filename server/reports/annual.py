"""The Núcleo's annual activity report (art. 454-A sole §) as CSV and PDF, in pt-BR."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from server.cases.deadlines import format_local
from server.db.models import Nucleo
from server.reports.production import ProductionReport

MONTHS_PT = [
    "janeiro", "fevereiro", "março", "abril", "maio", "junho",
    "julho", "agosto", "setembro", "outubro", "novembro", "dezembro",
]  # fmt: skip

MODALITY_PT = {
    "teleconsultoria": "Teleconsultoria",
    "teletriagem": "Teletriagem",
    "teleconsulta": "Teleconsulta",
    "telediagnostico": "Telediagnóstico",
    "telemonitoramento": "Telemonitoramento",
    "teleinterconsulta": "Teleinterconsulta",
    "teleducacao": "Teleducação",
    "telerregulacao": "Telerregulação",
    "teleorientacao": "Teleorientação",
}
MODE_PT = {"sync": "síncrona", "async": "assíncrona"}


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}".replace(".", ",")


def _percent(value: float | None) -> str:
    return "—" if value is None else _number(value * 100) + " %"


def to_csv(report: ProductionReport, nucleo: Nucleo, year: int) -> str:
    """Semicolon-separated with a comma decimal mark: what spreadsheets in pt-BR open as-is."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Relatório anual de atividades", nucleo.name, f"CNES {nucleo.cnes}", year])
    writer.writerow([])
    writer.writerow(["mes", "modalidade", "forma", "ponto_cnes", "ponto", "atendimentos"])
    for row in report.rows:
        writer.writerow(
            [
                row.month,
                row.modality,
                row.mode,
                row.ponto_cnes,
                row.ponto_name,
                row.count,
            ]
        )
    sla, out_ = report.sla, report.outcomes
    writer.writerow([])
    writer.writerow(["indicador", "valor"])
    for name, value in (
        ("casos_recebidos", sla.received),
        ("casos_respondidos", sla.answered),
        ("respondidos_no_prazo", sla.answered_within_deadline),
        ("percentual_no_prazo", _percent(sla.share_within_deadline)),
        ("tempo_resposta_p50_h", _number(sla.answer_hours_p50)),
        ("tempo_resposta_p90_h", _number(sla.answer_hours_p90)),
        ("abertos_com_prazo_vencido", sla.open_overdue),
        ("casos_avaliados", out_.closed_rated),
        ("encaminhamentos_evitados", out_.referrals_avoided),
        ("satisfacao_media", _number(out_.satisfaction_mean, 2)),
    ):
        writer.writerow([name, value])
    return out.getvalue()


def to_pdf(report: ProductionReport, nucleo: Nucleo, year: int, generated_at: datetime) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Relatório anual de atividades {year} – {nucleo.name}",
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
    )
    styles = getSampleStyleSheet()
    story: list[object] = [
        Paragraph(f"Relatório anual de atividades – {year}", styles["Title"]),
        Paragraph(
            f"{nucleo.name} · CNES {nucleo.cnes} · {nucleo.municipality}/{nucleo.uf}",
            styles["Normal"],
        ),
        Paragraph(
            "Núcleo de Telessaúde (art. 454-A, parágrafo único, da Portaria de Consolidação "
            f"GM/MS nº 5). Gerado em {format_local(generated_at)} (horário de Brasília).",
            styles["Normal"],
        ),
        Spacer(1, 0.5 * cm),
        Paragraph("Produção por modalidade e mês", styles["Heading2"]),
    ]
    by_month: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 12)
    for row in report.rows:
        label = f"{MODALITY_PT.get(row.modality, row.modality)} ({MODE_PT.get(row.mode, row.mode)})"
        by_month[(label, row.mode)][int(row.month[5:7]) - 1] += row.count
    header = ["Modalidade", *[m[:3] for m in MONTHS_PT], "Total"]
    data: list[list[str]] = [header]
    for (label, _), counts in sorted(by_month.items()):
        data.append([label, *[str(c) for c in counts], str(sum(counts))])
    if len(data) == 1:
        data.append(["Sem atendimentos no período", *[""] * 13])
    table = Table(data, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 7),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dfe8f1")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ]
        )
    )
    story += [table, Spacer(1, 0.5 * cm)]
    per_ponto: dict[str, int] = defaultdict(int)
    for row in report.rows:
        per_ponto[f"{row.ponto_name or 'Sem ponto'} (CNES {row.ponto_cnes or '—'})"] += row.count
    story.append(Paragraph("Produção por Ponto de Telessaúde", styles["Heading2"]))
    ponto_rows = [["Ponto", "Atendimentos"], *[[k, str(v)] for k, v in sorted(per_ponto.items())]]
    ponto_table = Table(ponto_rows, repeatRows=1)
    ponto_table.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dfe8f1")),
            ]
        )
    )
    story += [ponto_table, Spacer(1, 0.5 * cm)]
    sla, outcome = report.sla, report.outcomes
    story.append(Paragraph("Teleconsultoria assíncrona: prazos e resultados", styles["Heading2"]))
    indicators = [
        ["Casos recebidos", str(sla.received)],
        ["Casos respondidos", str(sla.answered)],
        ["Respondidos dentro do prazo", f"{sla.answered_within_deadline} "
         f"({_percent(sla.share_within_deadline)})"],
        ["Tempo até a resposta – mediana (p50)", f"{_number(sla.answer_hours_p50)} h"],
        ["Tempo até a resposta – p90", f"{_number(sla.answer_hours_p90)} h"],
        ["Casos abertos com prazo vencido", str(sla.open_overdue)],
        ["Casos avaliados pelo solicitante", str(outcome.closed_rated)],
        ["Encaminhamentos presenciais evitados", str(outcome.referrals_avoided)],
        ["Satisfação média (1 a 5)", _number(outcome.satisfaction_mean, 2)],
    ]  # fmt: skip
    indicator_table = Table(indicators)
    indicator_table.setStyle(
        TableStyle(
            [("FONTSIZE", (0, 0), (-1, -1), 9), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey)]
        )
    )
    story += [
        indicator_table,
        Spacer(1, 0.4 * cm),
        Paragraph(
            "Prazo máximo entre o recebimento e a resposta da teleconsultoria assíncrona: "
            "72 horas (art. 448 §3º). Relatório sem dados de pacientes.",
            styles["Italic"],
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
