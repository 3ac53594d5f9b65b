"""Issuing an atestado or a receita: check who may, render, sign, store, record.

The signed PDF and its record entry are written in the caller's transaction: both or neither.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.models import (
    Consultation,
    ConsultationStatus,
    Modality,
    Nucleo,
    ParticipantRole,
    Patient,
    Ponto,
    Professional,
)
from server.documents.certificates import SigningIdentity
from server.documents.models import DocumentKind, SignedDocument
from server.documents.render import (
    AtestadoData,
    PatientId,
    Prescriber,
    PrescriptionItem,
    ReceitaData,
    render_atestado,
    render_receita,
)
from server.documents.signing import sign_pdf
from server.records.chain import append_entry
from server.records.errors import RecordError
from server.records.models import EntryKind
from server.records.notes import CID10_RE, author_payload, clinical_participation

# Art. 448: the teleconsulta may prescribe and issue atestados; a teleinterconsulta or
# telemonitoramento with the patient present may too.
PRESCRIBING_MODALITIES = frozenset(
    {Modality.TELECONSULTA, Modality.TELEINTERCONSULTA, Modality.TELEMONITORAMENTO}
)
PRESCRIBING_ROLES = frozenset({ParticipantRole.SOLICITANTE, ParticipantRole.TELECONSULTOR})

Short = Annotated[str, Field(min_length=1, max_length=300)]


class AtestadoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: Annotated[int, Field(ge=0, le=365)]
    "Days of leave; 0 declares attendance only."
    purpose: Short
    "Finalidade, e.g. 'afastamento do trabalho', 'justificar falta escolar'."
    cid10: Annotated[str, Field(max_length=8)] | None = None
    patient_authorized_diagnosis: bool = False

    @model_validator(mode="after")
    def _diagnosis(self) -> AtestadoIn:
        if self.cid10 is not None:
            self.cid10 = self.cid10.strip().upper()
            if not CID10_RE.match(self.cid10):
                raise PydanticCustomError(
                    "cid10_format", "Código CID-10 inválido (ex.: A00, J45.9)."
                )
            if not self.patient_authorized_diagnosis:
                raise PydanticCustomError(
                    "diagnosis_not_authorized",
                    "O diagnóstico só vai no atestado com autorização do(a) paciente.",
                )
        return self


class PrescriptionItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    medication: Short
    "Name, concentration and form, e.g. 'Amoxicilina 500 mg cápsula'."
    use: Annotated[str, Field(min_length=1, max_length=1000)]
    "Modo de usar (Lei 5.991 art. 35 b)."
    quantity: Annotated[str, Field(min_length=1, max_length=100)]


class ReceitaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[PrescriptionItemIn], Field(min_length=1, max_length=20)]
    notes: Annotated[str, Field(max_length=2000)] = ""
    prescriber_address: Short | None = None
    "Defaults to the professional's Ponto or Núcleo (name, municipality/UF, CNES)."


async def issue_document(
    db: AsyncSession,
    *,
    consultation_id: uuid.UUID,
    professional_id: uuid.UUID,
    body: AtestadoIn | ReceitaIn,
    identity: SigningIdentity,
) -> SignedDocument:
    consultation, participant = await clinical_participation(db, consultation_id, professional_id)
    kind = DocumentKind.ATESTADO if isinstance(body, AtestadoIn) else DocumentKind.RECEITA
    if consultation.modality not in PRESCRIBING_MODALITIES:
        raise RecordError(
            409,
            "wrong_modality",
            "Atestados e receitas são emitidos em teleconsulta, teleinterconsulta ou "
            "telemonitoramento.",
        )
    if consultation.status not in (ConsultationStatus.IN_PROGRESS, ConsultationStatus.ENDED):
        raise RecordError(
            409, "consultation_not_held", "A consulta ainda não começou: não há atendimento."
        )
    if participant.role not in PRESCRIBING_ROLES:
        raise RecordError(
            403, "forbidden", "Seu papel nesta consulta não permite emitir documentos."
        )
    professional = await db.get(Professional, professional_id)
    patient = await db.get(Patient, consultation.patient_id)
    assert professional is not None and patient is not None
    if professional.council is None:
        raise RecordError(
            403, "forbidden", "Só profissionais com registro em conselho emitem documentos."
        )
    address = await _address(db, professional, consultation, body)
    prescriber = Prescriber(
        name=professional.name,
        council_label=professional.council_label,
        cbo=professional.cbo,
        address=address,
    )
    patient_id = PatientId(
        name=patient.social_name or patient.name,
        cpf=patient.cpf,
        cns=patient.cns,
        birth_date=patient.birth_date.strftime("%d/%m/%Y"),
    )
    issued_at = utcnow()
    modality = consultation.modality.value
    content: dict[str, Any]
    if isinstance(body, AtestadoIn):
        pdf = render_atestado(
            AtestadoData(
                prescriber=prescriber,
                patient=patient_id,
                issued_at=issued_at,
                consultation_started_at=consultation.started_at,
                days=body.days,
                purpose=body.purpose,
                cid10=body.cid10,
                modality=modality,
                development=identity.development,
            )
        )
        content = body.model_dump(mode="json")
    else:
        pdf = render_receita(
            ReceitaData(
                prescriber=prescriber,
                patient=patient_id,
                issued_at=issued_at,
                items=[PrescriptionItem(i.medication, i.use, i.quantity) for i in body.items],
                notes=body.notes,
                modality=modality,
                development=identity.development,
            )
        )
        content = {**body.model_dump(mode="json"), "prescriber_address": address}
    signed = await asyncio.to_thread(
        sign_pdf,
        pdf,
        identity,
        reason=f"{kind.value.capitalize()} emitido em {modality}",
        location=address[:120],
    )
    digest = hashlib.sha256(signed).hexdigest()
    document_id = uuid.uuid4()
    entry = await append_entry(
        db,
        patient_id=patient.id,
        kind=EntryKind.DOCUMENT,
        payload={
            "document_id": str(document_id),
            "document_kind": kind.value,
            "sha256": digest,
            "size": len(signed),
            "issued_at": issued_at.isoformat(),
            "author": author_payload(professional, participant.role),
            "signer_subject": identity.subject,
            "development_signature": identity.development,
            "content": content,
        },
        author_kind="professional",
        author_id=str(professional.id),
        consultation_id=consultation.id,
        now=issued_at,
    )
    document = SignedDocument(
        id=document_id,
        kind=kind,
        consultation_id=consultation.id,
        patient_id=patient.id,
        author_id=professional.id,
        pdf=signed,
        sha256=digest,
        size=len(signed),
        signer_subject=identity.subject[:400],
        development_signature=identity.development,
        entry_id=entry.id,
        created_at=issued_at,
    )
    db.add(document)
    await db.flush()
    return document


async def _address(
    db: AsyncSession,
    professional: Professional,
    consultation: Consultation,
    body: AtestadoIn | ReceitaIn,
) -> str:
    if isinstance(body, ReceitaIn) and body.prescriber_address:
        return body.prescriber_address
    for ponto_id in (professional.ponto_id, consultation.ponto_id):
        if ponto_id and (ponto := await db.get(Ponto, ponto_id)):
            return f"{ponto.name}, {ponto.municipality}/{ponto.uf} · CNES {ponto.cnes}"
    for nucleo_id in (professional.nucleo_id, consultation.nucleo_id):
        if nucleo_id and (nucleo := await db.get(Nucleo, nucleo_id)):
            return f"{nucleo.name}, {nucleo.municipality}/{nucleo.uf} · CNES {nucleo.cnes}"
    raise RecordError(
        422,
        "invalid_payload",
        "Informe o endereço do profissional (prescriber_address): a receita exige.",
        [{"field": "prescriber_address", "code": "missing", "message": "campo obrigatório"}],
    )


def safe_filename(kind: DocumentKind, document_id: uuid.UUID) -> str:
    return re.sub(r"[^a-z0-9-]", "", f"{kind.value}-{str(document_id)[:8]}") + ".pdf"
