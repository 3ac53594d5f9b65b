"""pt-BR PDFs of the atestado (art. 451 §1) and the receita (Lei 5.991/1973 art. 35).

Rendering only: what goes on the page comes in as plain data, already checked. Signing is
done afterwards on these bytes (``signing.py``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

BRASILIA = ZoneInfo("America/Sao_Paulo")
DEV_MARK = "Assinatura de desenvolvimento — não ICP-Brasil"


@dataclass(frozen=True)
class Prescriber:
    name: str
    council_label: str
    "E.g. CRM-MG 123456."
    cbo: str | None
    address: str
    "Lei 5.991 art. 35 c: the professional's address (the establishment's, here)."


@dataclass(frozen=True)
class PatientId:
    name: str
    cpf: str | None
    cns: str | None
    birth_date: str


@dataclass(frozen=True)
class AtestadoData:
    prescriber: Prescriber
    patient: PatientId
    issued_at: datetime
    consultation_started_at: datetime | None
    days: int
    "Duration of the leave (art. 451 §1)."
    purpose: str
    cid10: str | None
    "Printed only when the patient authorised it (CFM: the diagnosis is the patient's)."
    modality: str
    development: bool


@dataclass(frozen=True)
class PrescriptionItem:
    medication: str
    use: str
    "Modo de usar (dose, route, frequency, duration)."
    quantity: str


@dataclass(frozen=True)
class ReceitaData:
    prescriber: Prescriber
    patient: PatientId
    issued_at: datetime
    items: list[PrescriptionItem] = field(default_factory=list)
    notes: str = ""
    modality: str = "teleconsulta"
    development: bool = False


def styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontSize=16, spaceAfter=6),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontSize=11, leading=15),
        "small": ParagraphStyle("s", parent=base["BodyText"], fontSize=8.5, leading=11),
        "dev": ParagraphStyle(
            "d",
            parent=base["BodyText"],
            fontSize=11,
            textColor=colors.red,
            alignment=TA_CENTER,
            borderColor=colors.red,
            borderWidth=1,
            borderPadding=4,
        ),
    }


def brasilia_time(moment: datetime) -> str:
    return moment.astimezone(BRASILIA).strftime("%d/%m/%Y às %H:%M (horário de Brasília)")


def _patient_lines(patient: PatientId) -> str:
    ids = []
    if patient.cpf:
        ids.append(f"CPF {patient.cpf[:3]}.{patient.cpf[3:6]}.{patient.cpf[6:9]}-{patient.cpf[9:]}")
    if patient.cns:
        ids.append(f"CNS {patient.cns}")
    return (
        f"<b>Paciente:</b> {escape(patient.name)}<br/>"
        f"<b>Identificação:</b> {escape(' · '.join(ids))} · nascido(a) em {patient.birth_date}"
    )


def _signature_block(prescriber: Prescriber, s: dict[str, ParagraphStyle]) -> list[object]:
    return [
        Spacer(1, 14 * mm),
        Paragraph(
            f"<b>{escape(prescriber.name)}</b><br/>{escape(prescriber.council_label)}"
            + (f" · CBO {escape(prescriber.cbo)}" if prescriber.cbo else "")
            + f"<br/>{escape(prescriber.address)}",
            s["body"],
        ),
        Spacer(1, 4 * mm),
        Paragraph(
            "Documento assinado eletronicamente (assinatura digital PAdES). "
            "Confira a assinatura em um validador de PDF assinado.",
            s["small"],
        ),
    ]


def _build(story: list[object], title: str) -> bytes:
    buffer = io.BytesIO()
    # invariant=1: no random document id or current-time metadata, so the same data renders
    # to the same bytes (the signature then adds its own signing time).
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="Telessaúde SUS",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        invariant=1,
    )
    doc.build(story)
    return buffer.getvalue()


def render_atestado(data: AtestadoData) -> bytes:
    s = styles()
    story: list[object] = []
    if data.development:
        story += [Paragraph(DEV_MARK, s["dev"]), Spacer(1, 4 * mm)]
    dias = "1 (um) dia" if data.days == 1 else f"{data.days} dias"
    text = (
        f"Atesto, para fins de {escape(data.purpose)}, que o(a) paciente acima identificado(a) "
        f"foi atendido(a) por mim em {escape(data.modality)}"
        + (
            f" iniciada em {brasilia_time(data.consultation_started_at)}"
            if data.consultation_started_at
            else ""
        )
        + f", necessitando de afastamento de suas atividades por {dias}"
        + " a partir desta data."
    )
    if data.cid10:
        text += f" CID-10: {escape(data.cid10)} (informado com autorização do(a) paciente)."
    story += [
        Paragraph("ATESTADO", s["title"]),
        Paragraph(_patient_lines(data.patient), s["body"]),
        Spacer(1, 6 * mm),
        Paragraph(text, s["body"]),
        Spacer(1, 6 * mm),
        Paragraph(f"<b>Emitido em:</b> {brasilia_time(data.issued_at)}", s["body"]),
        Paragraph(f"<b>Duração do afastamento:</b> {dias}", s["body"]),
        Paragraph(f"<b>Finalidade:</b> {escape(data.purpose)}", s["body"]),
        *_signature_block(data.prescriber, s),
    ]
    return _build(story, "Atestado")


def render_receita(data: ReceitaData) -> bytes:
    s = styles()
    story: list[object] = []
    if data.development:
        story += [Paragraph(DEV_MARK, s["dev"]), Spacer(1, 4 * mm)]
    rows = [
        [
            Paragraph("<b>Medicamento</b>", s["body"]),
            Paragraph("<b>Modo de usar</b>", s["body"]),
            Paragraph("<b>Quantidade</b>", s["body"]),
        ]
    ]
    for n, item in enumerate(data.items, start=1):
        rows.append(
            [
                Paragraph(f"{n}. {escape(item.medication)}", s["body"]),
                Paragraph(escape(item.use), s["body"]),
                Paragraph(escape(item.quantity), s["body"]),
            ]
        )
    table = Table(rows, colWidths=[60 * mm, 80 * mm, 30 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ]
        )
    )
    story += [
        Paragraph("RECEITA", s["title"]),
        Paragraph(_patient_lines(data.patient), s["body"]),
        Paragraph(f"<b>Atendimento:</b> {escape(data.modality)} (telessaúde)", s["body"]),
        Spacer(1, 6 * mm),
        table,
    ]
    if data.notes:
        story += [
            Spacer(1, 4 * mm),
            Paragraph(f"<b>Observações:</b> {escape(data.notes)}", s["body"]),
        ]
    story += [
        Spacer(1, 6 * mm),
        Paragraph(f"<b>Data:</b> {brasilia_time(data.issued_at)}", s["body"]),
        *_signature_block(data.prescriber, s),
    ]
    return _build(story, "Receita")
