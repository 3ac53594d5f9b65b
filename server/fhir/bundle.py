"""A patient's record (or one session) as a FHIR R4 document Bundle, built with the
fhir.resources R4B models so that what we emit is checked against them.

Mapping (DOMAIN.md): session → Encounter (class VR), consent → Consent, chat → Communication,
notes and RATI → Composition, signed PDFs → DocumentReference, professionals → Practitioner +
PractitionerRole (council identifier, CBO), Núcleo/Ponto → Organization (CNES), the whole copy →
the Bundle's first Composition.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.composition import Composition
from fhir.resources.R4B.consent import Consent as FhirConsent
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.chat.models import ChatMessage
from server.db.base import utcnow
from server.db.models import (
    Consultation,
    ConsultationStatus,
    Nucleo,
    Patient,
    Ponto,
    Professional,
)
from server.documents.models import SignedDocument
from server.fhir.systems import (
    ACT_CODE,
    CONSENT_SCOPE,
    DEFAULT_SYSTEMS,
    LOINC,
    PARTICIPATION_TYPE,
    FhirSystems,
)
from server.records.models import EntryKind, RecordEntry

_SOAP = (
    ("subjective", "61150-9", "Subjetivo"),
    ("objective", "61149-1", "Objetivo"),
    ("assessment", "51848-0", "Avaliação"),
    ("plan", "18776-5", "Plano"),
)
_CONSENT_STATUS = {"accepted": "active", "refused": "rejected", "revoked": "inactive"}
_ENCOUNTER_STATUS = {
    ConsultationStatus.SCHEDULED: "planned",
    ConsultationStatus.IN_PROGRESS: "in-progress",
    ConsultationStatus.ENDED: "finished",
    ConsultationStatus.CANCELLED: "cancelled",
}


def _urn(value: uuid.UUID | str) -> str:
    return f"urn:uuid:{value}"


def _div(*paragraphs: str) -> dict[str, str]:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs if p) or "<p>-</p>"
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class _Builder:
    """Collects resources once each (keyed by our ids) and references them by urn:uuid."""

    def __init__(self, systems: FhirSystems) -> None:
        self.systems = systems
        self.resources: dict[str, Any] = {}
        self.sections: dict[str, list[str]] = {}

    def add(self, resource: Any, section: str | None = None) -> str:
        url = _urn(resource.id)
        self.resources.setdefault(url, resource)
        if section:
            self.sections.setdefault(section, []).append(url)
        return url

    # -- people and places ------------------------------------------------------------------

    def patient(self, patient: Patient) -> str:
        identifiers = []
        if patient.cpf:
            identifiers.append({"system": self.systems.cpf, "value": patient.cpf})
        if patient.cns:
            identifiers.append({"system": self.systems.cns, "value": patient.cns})
        names = [{"use": "official", "text": patient.name}]
        if patient.social_name:
            names.append({"use": "usual", "text": patient.social_name})
        return self.add(
            FhirPatient.model_validate(
                {
                    "id": str(patient.id),
                    "identifier": identifiers,
                    "name": names,
                    "birthDate": patient.birth_date.isoformat(),
                }
            )
        )

    def organization(self, unit: Nucleo | Ponto) -> str:
        return self.add(
            Organization.model_validate(
                {
                    "id": str(unit.id),
                    "identifier": [{"system": self.systems.cnes, "value": unit.cnes}],
                    "name": unit.name,
                    "address": [{"city": unit.municipality, "state": unit.uf, "country": "BR"}],
                }
            )
        )

    def practitioner_role(self, professional: Professional, org_url: str | None) -> str:
        practitioner = Practitioner.model_validate(
            {
                "id": str(professional.id),
                "identifier": [{"system": self.systems.cpf, "value": professional.cpf}],
                "name": [{"text": professional.name}],
            }
        )
        practitioner_url = self.add(practitioner)
        role: dict[str, Any] = {
            # A stable id per professional (and organisation) so that it is listed once.
            "id": str(uuid.uuid5(professional.id, org_url or "none")),
            "practitioner": {"reference": practitioner_url, "display": professional.name},
        }
        if professional.council and professional.council_uf and professional.council_number:
            role["identifier"] = [
                {
                    "system": self.systems.council(
                        professional.council.value, professional.council_uf
                    ),
                    "value": professional.council_number,
                }
            ]
        if professional.cbo:
            role["code"] = [
                {
                    "coding": [{"system": self.systems.cbo, "code": professional.cbo}],
                    "text": professional.category or professional.cbo,
                }
            ]
        if professional.specialties:
            role["specialty"] = [{"text": s.strip()} for s in professional.specialties.split(",")]
        if org_url:
            role["organization"] = {"reference": org_url}
        return self.add(PractitionerRole.model_validate(role))

    def reasons(self, reasons: list[dict[str, str]]) -> list[dict[str, Any]]:
        out = []
        for reason in reasons:
            system = self.systems.cid10 if reason["system"] == "CID-10" else self.systems.ciap2
            coding = {"system": system, "code": reason["code"]}
            if reason.get("display"):
                coding["display"] = reason["display"]
            out.append({"coding": [coding], "text": reason.get("display") or reason["code"]})
        return out


async def _load(
    db: AsyncSession, patient_id: uuid.UUID, consultation_id: uuid.UUID | None
) -> tuple[Patient, list[RecordEntry], list[Consultation]]:
    patient = await db.get(Patient, patient_id)
    if patient is None:
        raise LookupError(f"patient {patient_id} not found")
    stmt = select(RecordEntry).where(RecordEntry.patient_id == patient_id)
    if consultation_id is not None:
        stmt = stmt.where(RecordEntry.consultation_id == consultation_id)
    entries = list((await db.scalars(stmt.order_by(RecordEntry.seq))).all())
    ids = {e.consultation_id for e in entries if e.consultation_id}
    if consultation_id is not None:
        ids.add(consultation_id)
    consultations = list(
        (
            await db.scalars(
                select(Consultation)
                .where(Consultation.id.in_(ids))
                .options(selectinload(Consultation.participants))
                .order_by(Consultation.scheduled_for)
            )
        ).all()
    )
    return patient, entries, consultations


async def build_bundle(
    db: AsyncSession,
    patient_id: uuid.UUID,
    *,
    consultation_id: uuid.UUID | None = None,
    systems: FhirSystems = DEFAULT_SYSTEMS,
) -> Bundle:
    """The whole record of ``patient_id`` (or only ``consultation_id``'s part) as a document."""
    patient, entries, consultations = await _load(db, patient_id, consultation_id)
    b = _Builder(systems)
    patient_url = b.patient(patient)

    professional_ids = {
        p.professional_id for c in consultations for p in c.participants if p.professional_id
    }
    professional_ids |= {
        uuid.UUID(e.author_id) for e in entries if e.author_kind == "professional" and e.author_id
    }
    professionals = {
        p.id: p
        for p in (
            await db.scalars(select(Professional).where(Professional.id.in_(professional_ids)))
        ).all()
    }
    unit_ids = {u for c in consultations for u in (c.nucleo_id, c.ponto_id) if u}
    units: dict[uuid.UUID, Nucleo | Ponto] = {}
    units.update(
        {n.id: n for n in (await db.scalars(select(Nucleo).where(Nucleo.id.in_(unit_ids)))).all()}
    )
    units.update(
        {p.id: p for p in (await db.scalars(select(Ponto).where(Ponto.id.in_(unit_ids)))).all()}
    )

    def role_url(professional_id: uuid.UUID | None) -> str | None:
        professional = professionals.get(professional_id) if professional_id else None
        if professional is None:
            return None
        unit_id = professional.ponto_id or professional.nucleo_id
        org = b.organization(units[unit_id]) if unit_id in units else None
        return b.practitioner_role(professional, org)

    # Encounters: one per consultation, period from the session summary when there is one.
    summaries = {
        e.consultation_id: json.loads(e.payload)
        for e in entries
        if e.kind is EntryKind.SESSION_SUMMARY
    }
    encounter_urls: dict[uuid.UUID, str] = {}
    for consultation in consultations:
        summary = summaries.get(consultation.id)
        encounter: dict[str, Any] = {
            "id": str(consultation.id),
            "status": _ENCOUNTER_STATUS[consultation.status],
            "class": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
            "type": [{"text": consultation.modality.value}],
            "subject": {"reference": patient_url},
            "participant": [],
        }
        start = (
            summary["started_at"]
            if summary
            else (_iso(consultation.started_at) if consultation.started_at else None)
        )
        end = (
            summary["ended_at"]
            if summary
            else (_iso(consultation.ended_at) if consultation.ended_at else None)
        )
        if start:
            encounter["period"] = {"start": start, **({"end": end} if end else {})}
        if summary:
            encounter["length"] = {
                "value": summary["duration_s"],
                "unit": "s",
                "system": "http://unitsofmeasure.org",
                "code": "s",
            }
            encounter["text"] = _div(f"Tecnologia: {summary['technology']}")
        for participant in sorted(consultation.participants, key=lambda p: p.created_at):
            url = role_url(participant.professional_id)
            if url:
                encounter["participant"].append(
                    {
                        "type": [
                            {
                                "coding": [
                                    {
                                        "system": PARTICIPATION_TYPE,
                                        "code": "PPRF"
                                        if participant.role.value == "solicitante"
                                        else "CON",
                                    }
                                ],
                                "text": participant.role.value,
                            }
                        ],
                        "individual": {"reference": url},
                    }
                )
        if not encounter["participant"]:
            del encounter["participant"]
        provider = consultation.ponto_id or consultation.nucleo_id
        if provider in units:
            encounter["serviceProvider"] = {"reference": b.organization(units[provider])}
        encounter_urls[consultation.id] = b.add(Encounter.model_validate(encounter), "encounters")

    entry_urls: dict[uuid.UUID, str] = {}
    documents = {
        d.entry_id: d
        for d in (
            await db.scalars(select(SignedDocument).where(SignedDocument.patient_id == patient_id))
        ).all()
    }
    for entry in entries:
        payload = json.loads(entry.payload)
        encounter_ref = (
            {"reference": encounter_urls[entry.consultation_id]}
            if entry.consultation_id in encounter_urls
            else None
        )
        author = (
            role_url(uuid.UUID(entry.author_id))
            if entry.author_kind == "professional" and entry.author_id
            else None
        )
        identifier = {"system": systems.entry_id, "value": str(entry.id)}
        if entry.kind is EntryKind.CONSENT:
            consent: dict[str, Any] = {
                "id": str(entry.id),
                "identifier": [
                    identifier,
                    {"system": systems.tcle_sha256, "value": payload["term"]["sha256"]},
                ],
                "status": _CONSENT_STATUS[payload["decision"]],
                "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "treatment"}]},
                "category": [{"coding": [{"system": LOINC, "code": "59284-0"}], "text": "TCLE"}],
                "patient": {"reference": patient_url},
                "dateTime": payload["decided_at"],
                "policyRule": {
                    "text": f"{payload['term']['title']} (versão {payload['term']['version']})"
                },
                "text": _div(f"Decisão: {payload['decision']}; canal: {payload['channel']}"),
            }
            if author:
                consent["performer"] = [{"reference": author}]
                consent["verification"] = [
                    {
                        "verified": True,
                        "verifiedWith": {"reference": patient_url},
                        "verificationDate": payload["decided_at"],
                    }
                ]
            else:
                consent["performer"] = [{"reference": patient_url}]
            entry_urls[entry.id] = b.add(FhirConsent.model_validate(consent), "consents")
        elif entry.kind in (
            EntryKind.CLINICAL_NOTE,
            EntryKind.RECOMMENDATION,
            EntryKind.CORRECTION,
        ):
            entry_urls[entry.id] = b.add(
                Composition.model_validate(
                    _note_composition(
                        entry, payload, patient_url, author, encounter_ref, b, entry_urls
                    )
                ),
                "notes",
            )
        elif entry.kind is EntryKind.DOCUMENT and entry.id in documents:
            document = documents[entry.id]
            reference: dict[str, Any] = {
                "id": str(document.id),
                "identifier": [
                    identifier,
                    {"system": systems.document_sha256, "value": document.sha256},
                ],
                "status": "current",
                "type": {"text": document.kind.value},
                "subject": {"reference": patient_url},
                "date": _iso(document.created_at),
                "description": "Documento assinado digitalmente (PAdES)"
                + (
                    " — assinatura de desenvolvimento, não ICP-Brasil"
                    if document.development_signature
                    else ""
                ),
                "content": [
                    {
                        "attachment": {
                            "contentType": "application/pdf",
                            "url": f"/api/documents/{document.id}",
                            "size": document.size,
                            # FHIR's Attachment.hash is the base64 SHA-1 of the data.
                            "hash": base64.b64encode(hashlib.sha1(document.pdf).digest()).decode(),
                            "title": f"{document.kind.value}.pdf",
                            "creation": _iso(document.created_at),
                        }
                    }
                ],
            }
            if author:
                reference["author"] = [{"reference": author}]
            if encounter_ref:
                reference["context"] = {"encounter": [encounter_ref]}
            entry_urls[entry.id] = b.add(DocumentReference.model_validate(reference), "documents")

    # Chat messages of these consultations (sync calls use the consultation's channel).
    channels = [f"consultation:{c.id}" for c in consultations]
    messages = (
        await db.scalars(
            select(ChatMessage).where(ChatMessage.channel.in_(channels)).order_by(ChatMessage.id)
        )
    ).all()
    for message in messages:
        consultation_key = uuid.UUID(message.channel.split(":", 1)[1])
        communication: dict[str, Any] = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"chat:{message.id}")),
            "status": "completed",
            "subject": {"reference": patient_url},
            "encounter": {"reference": encounter_urls[consultation_key]},
            "sent": _iso(message.created_at),
            "payload": [{"contentString": message.text}],
        }
        if message.author_kind == "professional":
            sender = role_url(uuid.UUID(message.author_id))
            if sender:
                communication["sender"] = {"reference": sender, "display": message.author_name}
        elif message.author_kind == "patient":
            communication["sender"] = {"reference": patient_url, "display": message.author_name}
        b.add(Communication.model_validate(communication), "chat")

    now = utcnow()
    title = (
        "Cópia do prontuário"
        if consultation_id is None
        else "Registro de atendimento em telessaúde"
    )
    section_titles = {
        "encounters": "Atendimentos",
        "consents": "Consentimentos (TCLE)",
        "notes": "Anotações clínicas e recomendações",
        "documents": "Documentos assinados",
        "chat": "Mensagens",
    }
    composition_id = uuid.uuid4()
    head = Composition.model_validate(
        {
            "id": str(composition_id),
            "status": "final",
            "type": {
                "coding": [{"system": LOINC, "code": "11503-0", "display": "Medical records"}],
                "text": title,
            },
            "subject": {"reference": patient_url},
            "date": _iso(now),
            "author": [{"display": "Telessaúde SUS (cópia gerada automaticamente)"}],
            "title": title,
            "section": [
                {"title": section_titles[key], "entry": [{"reference": url} for url in urls]}
                for key, urls in b.sections.items()
            ]
            or [{"title": "Sem registros", "text": _div("Nenhum registro encontrado.")}],
        }
    )
    entries_out = [{"fullUrl": _urn(composition_id), "resource": head}] + [
        {"fullUrl": url, "resource": resource} for url, resource in b.resources.items()
    ]
    return Bundle.model_validate(
        {
            "identifier": {"system": "urn:ietf:rfc:3986", "value": _urn(uuid.uuid4())},
            "type": "document",
            "timestamp": _iso(now),
            "entry": entries_out,
        }
    )


def _note_composition(
    entry: RecordEntry,
    payload: dict[str, Any],
    patient_url: str,
    author: str | None,
    encounter_ref: dict[str, str] | None,
    b: _Builder,
    entry_urls: dict[uuid.UUID, str],
) -> dict[str, Any]:
    sections: list[dict[str, Any]] = []
    doc_type: dict[str, Any]
    if entry.kind is EntryKind.CLINICAL_NOTE:
        title = "Evolução clínica (SOAP)"
        doc_type = {"coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}]}
        for key, code, label in _SOAP:
            if payload.get(key):
                sections.append(
                    {
                        "title": label,
                        "code": {"coding": [{"system": LOINC, "code": code}]},
                        "text": _div(payload[key]),
                    }
                )
    elif entry.kind is EntryKind.RECOMMENDATION:
        part = payload["part"]
        title = (
            "RATI — solicitação" if part == "solicitacao" else "RATI — resposta do teleconsultor"
        )
        doc_type = {
            "coding": [{"system": LOINC, "code": "11488-4", "display": "Consult note"}],
            "text": title,
        }
        fields = (
            ("clinical_question", "Pergunta clínica"),
            ("clinical_summary", "Resumo clínico"),
            ("answer", "Resposta"),
            ("recommendations", "Recomendações"),
        )
        for key, label in fields:
            if payload.get(key):
                sections.append({"title": label, "text": _div(payload[key])})
        if part == "resposta":
            referral = "sim" if payload.get("in_person_referral") else "não"
            sections.append({"title": "Encaminhamento presencial", "text": _div(referral)})
    else:
        title = "Correção de registro"
        doc_type = {"text": title}
        sections.append({"title": "Motivo", "text": _div(payload["reason"])})
        sections.append({"title": "Texto corrigido", "text": _div(payload["text"])})
    if payload.get("reasons"):
        sections.insert(
            0,
            {
                "title": "Motivo do atendimento",
                "entry": [],
                "text": _div(
                    *(
                        f"{r['system']} {r['code']} {r.get('display', '')}"
                        for r in payload["reasons"]
                    )
                ),
            },
        )
        sections[0].pop("entry")
    composition: dict[str, Any] = {
        "id": str(entry.id),
        "identifier": {"system": b.systems.entry_id, "value": str(entry.id)},
        "status": "final",
        "type": doc_type,
        "subject": {"reference": patient_url},
        "date": _iso(entry.created_at),
        "author": [{"reference": author}] if author else [{"display": "sistema"}],
        "title": title,
        "section": sections,
    }
    if payload.get("reasons"):
        composition["category"] = b.reasons(payload["reasons"])
    if encounter_ref:
        composition["encounter"] = encounter_ref
    if entry.corrects_id:
        target = entry_urls.get(entry.corrects_id)
        relation: dict[str, Any] = {"code": "replaces"}
        if target:
            relation["targetReference"] = {"reference": target}
        else:
            relation["targetIdentifier"] = {
                "system": b.systems.entry_id,
                "value": str(entry.corrects_id),
            }
        composition["relatesTo"] = [relation]
    return composition
