"""The patient's copy of the whole record as a pt-BR PDF (art. 450 §1; LGPD art. 19)."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from server.db.models import Patient
from server.documents.render import brasilia_time, styles
from server.records.chain import ChainReport
from server.records.models import RecordEntry

KIND_LABELS = {
    "consent": "Consentimento (TCLE)",
    "session_summary": "Registro de atendimento",
    "clinical_note": "Evolução clínica",
    "recommendation": "Recomendação (RATI)",
    "document": "Documento assinado",
    "correction": "Correção",
    "chat_transcript": "Mensagens",
}
DECISIONS = {"accepted": "aceito", "refused": "recusado", "revoked": "retirado"}
CHANNELS = {
    "browser": "aceite no navegador pelo(a) paciente",
    "verbal_transcribed": "verbal, registrado pelo profissional",
    "legal_representative": "pelo representante legal",
}


def _lines(kind: str, p: dict[str, Any]) -> list[str]:
    author = p.get("author") or {}
    by = f"{author.get('name', '')} ({author.get('council_label', '')})" if author else ""
    if kind == "consent":
        lines = [
            f"Decisão: {DECISIONS.get(p['decision'], p['decision'])} — "
            f"{CHANNELS.get(p['channel'], p['channel'])}",
            f"Termo: {p['term']['title']}, versão {p['term']['version']} "
            f"(SHA-256 {p['term']['sha256'][:16]}…)",
        ]
        if p.get("registered_by"):
            r = p["registered_by"]
            lines.append(f"Registrado por: {r['name']} ({r['council']})")
        if p.get("representative"):
            r = p["representative"]
            lines.append(f"Representante legal: {r['name']} ({r['relationship']})")
        return lines
    if kind == "session_summary":
        lines = [
            f"Modalidade: {p['modality']} · Tecnologia: {p['technology']}",
            f"Início: {brasilia_time(datetime.fromisoformat(p['started_at']))} · "
            f"Fim: {brasilia_time(datetime.fromisoformat(p['ended_at']))} · "
            f"Duração: {p['duration_s'] // 60} min",
        ]
        for unit in ("nucleo", "ponto"):
            if p.get(unit):
                label = "Núcleo" if unit == "nucleo" else "Ponto"
                lines.append(f"{label}: {p[unit]['name']} (CNES {p[unit]['cnes']})")
        for person in p["participants"]:
            council = (
                f" — {person['council_label']}, CBO {person['cbo']}"
                if person.get("council")
                else ""
            )
            lines.append(f"Participante ({person['role']}): {person['name']}{council}")
        return lines
    if kind == "clinical_note":
        reasons = ", ".join(f"{r['system']} {r['code']}" for r in p["reasons"])
        return [
            f"Por: {by}",
            f"Motivo: {reasons}",
            f"S: {p['subjective']}",
            f"O: {p.get('objective') or '—'}",
            f"A: {p['assessment']}",
            f"P: {p['plan']}",
        ]
    if kind == "recommendation":
        keys = ("clinical_question", "clinical_summary", "answer", "recommendations")
        return [
            f"Por: {by}",
            *(f"{k.replace('_', ' ').capitalize()}: {p[k]}" for k in keys if p.get(k)),
        ]
    if kind == "document":
        return [
            f"{p['document_kind'].capitalize()} emitido por {by}",
            f"SHA-256 do PDF assinado: {p['sha256']}",
        ]
    if kind == "correction":
        return [
            f"Por: {by}",
            f"Corrige o registro nº {p['corrects']['seq']}",
            f"Motivo: {p['reason']}",
            f"Texto: {p['text']}",
        ]
    return []


def render_record_copy(
    patient: Patient, entries: list[RecordEntry], report: ChainReport, generated_at: datetime
) -> bytes:
    s = styles()
    story: list[Any] = [
        Paragraph("Cópia do prontuário", s["title"]),
        Paragraph(
            f"<b>Paciente:</b> {escape(patient.name)} · CPF {patient.cpf or '—'} · "
            f"CNS {patient.cns or '—'}",
            s["body"],
        ),
        Paragraph(f"<b>Gerada em:</b> {brasilia_time(generated_at)}", s["body"]),
        Paragraph(
            "Cópia fornecida a pedido do(a) paciente (Portaria GM/MS nº 5/2017, art. 450 §1; "
            "Lei nº 13.709/2018, art. 19).",
            s["small"],
        ),
        Spacer(1, 6 * mm),
    ]
    for entry in entries:
        payload = json.loads(entry.payload)
        kind = entry.kind.value
        story.append(
            Paragraph(
                f"<b>{entry.seq}. {KIND_LABELS.get(kind, kind)}</b> — "
                f"{brasilia_time(entry.created_at)}",
                s["body"],
            )
        )
        for line in _lines(kind, payload):
            story.append(Paragraph(escape(line), s["small"]))
        story.append(Paragraph(f"Hash: {entry.hash}", s["small"]))
        story.append(Spacer(1, 3 * mm))
    if not entries:
        story.append(Paragraph("Não há registros no prontuário.", s["body"]))
    integrity = (
        f"Integridade verificada: {report.entries_checked} registros encadeados, sem alterações."
        if report.intact
        else "ATENÇÃO: a verificação de integridade encontrou um registro alterado."
    )
    story += [Spacer(1, 4 * mm), Paragraph(integrity, s["body"])]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer, pagesize=A4, title="Cópia do prontuário", leftMargin=18 * mm, rightMargin=18 * mm
    ).build(story)
    return buffer.getvalue()
