"""What professionals write into the prontuário: clinical notes (SOAP, coded reason), the two
parts of a teleinterconsulta's RATI, and corrections of earlier entries.

Only professionals taking part in the consultation write about it; the text itself never
reaches logs or audit events.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Consultation,
    ConsultationParticipant,
    ConsultationStatus,
    Modality,
    ParticipantRole,
    Professional,
)
from server.records.chain import append_entry
from server.records.errors import RecordError
from server.records.models import EntryKind, RecordEntry

MAX_TEXT = 10_000
"Per field: generous for a note, small enough that nobody pastes a whole exam into it."

# CID-10: a chapter letter, two digits, optionally a dot and one subcategory character
# (J45.9, A00, U07.1). We check the shape, not membership in the table.
CID10_RE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9X])?$")
# CIAP-2: one of its 17 chapter letters and a two-digit component code (A01, K86, T90).
CIAP2_CHAPTERS = frozenset("ABDFHKLNPRSTUWXYZ")
CIAP2_RE = re.compile(r"^([A-Z])([0-9]{2})$")


class CodeSystem(StrEnum):
    CID10 = "CID-10"
    CIAP2 = "CIAP-2"


LongText = Annotated[str, Field(max_length=MAX_TEXT)]
RequiredText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class CodedReason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: CodeSystem
    code: Annotated[str, Field(min_length=1, max_length=8)]
    display: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _code_format(self) -> CodedReason:
        self.code = self.code.strip().upper()
        if self.system is CodeSystem.CID10 and not CID10_RE.match(self.code):
            raise PydanticCustomError(
                "cid10_format",
                "Código CID-10 inválido: use letra, dois dígitos e, se houver, ponto e "
                "subcategoria (ex.: A00, J45.9).",
            )
        if self.system is CodeSystem.CIAP2:
            match = CIAP2_RE.match(self.code)
            if not match or match.group(1) not in CIAP2_CHAPTERS or match.group(2) == "00":
                raise PydanticCustomError(
                    "ciap2_format",
                    "Código CIAP-2 inválido: use um capítulo (A, B, D, F, H, K, L, N, P, R, S, "
                    "T, U, W, X, Y, Z) e dois dígitos de 01 a 99 (ex.: A01, K86).",
                )
        return self


class ClinicalNoteIn(BaseModel):
    """A SOAP note with at least one coded reason for the contact."""

    model_config = ConfigDict(extra="forbid")

    reasons: Annotated[list[CodedReason], Field(min_length=1, max_length=10)]
    subjective: RequiredText
    objective: LongText = ""
    "May be empty: a remote contact cannot always examine."
    assessment: RequiredText
    plan: RequiredText

    @field_validator("subjective", "assessment", "plan")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("blank", "campo obrigatório")
        return value


class RatiPart(StrEnum):
    SOLICITACAO = "solicitacao"
    RESPOSTA = "resposta"


class RatiRequestIn(BaseModel):
    """RATI part 1: the requesting professional's question (Portaria GM/MS 8.323/2025)."""

    model_config = ConfigDict(extra="forbid")

    part: Literal[RatiPart.SOLICITACAO]
    clinical_question: RequiredText
    clinical_summary: RequiredText
    reasons: Annotated[list[CodedReason], Field(min_length=1, max_length=10)]


class RatiResponseIn(BaseModel):
    """RATI part 2: the teleinterconsultor's recommendations."""

    model_config = ConfigDict(extra="forbid")

    part: Literal[RatiPart.RESPOSTA]
    answer: RequiredText
    recommendations: RequiredText
    in_person_referral: bool
    "Whether the patient needs an in-person specialist visit (a referral avoided, or not)."
    reasons: Annotated[list[CodedReason], Field(max_length=10)] = []


RecommendationIn = Annotated[RatiRequestIn | RatiResponseIn, Field(discriminator="part")]


class CorrectionIn(BaseModel):
    """A new entry that corrects an older one; the older one stays as it was."""

    model_config = ConfigDict(extra="forbid")

    reason: RequiredText
    text: RequiredText
    "The corrected content as the professional states it (e.g. the whole corrected plan)."


def author_payload(professional: Professional, role: ParticipantRole) -> dict[str, Any]:
    return {
        "professional_id": str(professional.id),
        "name": professional.name,
        "role": role.value,
        "council": professional.council.value if professional.council else None,
        "council_number": professional.council_number,
        "council_uf": professional.council_uf,
        "council_label": professional.council_label,
        "cbo": professional.cbo,
        "rqe": professional.rqe,
        "specialties": professional.specialties,
        "cpf": professional.cpf,
    }


async def clinical_participation(
    db: AsyncSession, consultation_id: uuid.UUID, professional_id: uuid.UUID
) -> tuple[Consultation, ConsultationParticipant]:
    """The consultation and the professional's place in it, or a RecordError (404/403/409)."""
    consultation = await db.get(Consultation, consultation_id)
    if consultation is None:
        raise RecordError(404, "not_found", "Consulta não encontrada.")
    participant = await db.scalar(
        select(ConsultationParticipant).where(
            ConsultationParticipant.consultation_id == consultation_id,
            ConsultationParticipant.professional_id == professional_id,
            ConsultationParticipant.removed_at.is_(None),
        )
    )
    if participant is None:
        raise RecordError(
            403,
            "not_a_participant",
            "Você não participa desta consulta e não pode registrar no prontuário dela.",
        )
    if consultation.patient_id is None:
        raise RecordError(
            409, "no_patient", "Esta consulta não tem paciente identificado: não há prontuário."
        )
    if consultation.status is ConsultationStatus.CANCELLED:
        raise RecordError(409, "consultation_cancelled", "A consulta foi cancelada.")
    return consultation, participant


async def _clinician(db: AsyncSession, professional_id: uuid.UUID) -> Professional:
    professional = await db.get(Professional, professional_id)
    if professional is None or professional.council is None:
        raise RecordError(
            403,
            "forbidden",
            "Só profissionais com registro em conselho escrevem no prontuário.",
        )
    return professional


async def add_clinical_note(
    db: AsyncSession, consultation_id: uuid.UUID, professional_id: uuid.UUID, note: ClinicalNoteIn
) -> RecordEntry:
    consultation, participant = await clinical_participation(db, consultation_id, professional_id)
    if participant.role not in (
        ParticipantRole.SOLICITANTE,
        ParticipantRole.TELECONSULTOR,
        ParticipantRole.REGULADOR,
    ):
        raise RecordError(403, "forbidden", "Seu papel nesta consulta não permite esta anotação.")
    professional = await _clinician(db, professional_id)
    assert consultation.patient_id is not None
    return await append_entry(
        db,
        patient_id=consultation.patient_id,
        kind=EntryKind.CLINICAL_NOTE,
        payload={
            "author": author_payload(professional, participant.role),
            **note.model_dump(mode="json"),
        },
        author_kind="professional",
        author_id=str(professional.id),
        consultation_id=consultation.id,
    )


async def add_recommendation(
    db: AsyncSession,
    consultation_id: uuid.UUID,
    professional_id: uuid.UUID,
    part: RatiRequestIn | RatiResponseIn,
) -> RecordEntry:
    consultation, participant = await clinical_participation(db, consultation_id, professional_id)
    if consultation.modality not in (Modality.TELEINTERCONSULTA, Modality.TELECONSULTORIA):
        raise RecordError(
            409,
            "wrong_modality",
            "Recomendações (RATI) são registradas em teleinterconsulta ou teleconsultoria.",
        )
    expected = (
        ParticipantRole.SOLICITANTE
        if isinstance(part, RatiRequestIn)
        else ParticipantRole.TELECONSULTOR
    )
    if participant.role is not expected:
        who = (
            "o profissional solicitante"
            if expected is ParticipantRole.SOLICITANTE
            else ("o teleconsultor")
        )
        raise RecordError(403, "forbidden", f"Esta parte do RATI é registrada por {who}.")
    professional = await _clinician(db, professional_id)
    assert consultation.patient_id is not None
    return await append_entry(
        db,
        patient_id=consultation.patient_id,
        kind=EntryKind.RECOMMENDATION,
        payload={
            "author": author_payload(professional, participant.role),
            **part.model_dump(mode="json"),
        },
        author_kind="professional",
        author_id=str(professional.id),
        consultation_id=consultation.id,
    )


async def add_correction(
    db: AsyncSession, entry_id: uuid.UUID, professional_id: uuid.UUID, correction: CorrectionIn
) -> RecordEntry:
    """Correct an entry of a consultation the professional took part in, by a new entry."""
    target = await db.get(RecordEntry, entry_id)
    if target is None:
        raise RecordError(404, "not_found", "Registro não encontrado.")
    if target.consultation_id is None:
        raise RecordError(409, "not_correctable", "Este registro não pode ser corrigido.")
    consultation, participant = await clinical_participation(
        db, target.consultation_id, professional_id
    )
    if participant.role not in (
        ParticipantRole.SOLICITANTE,
        ParticipantRole.TELECONSULTOR,
        ParticipantRole.REGULADOR,
    ):
        raise RecordError(403, "forbidden", "Seu papel nesta consulta não permite correções.")
    professional = await _clinician(db, professional_id)
    return await append_entry(
        db,
        patient_id=target.patient_id,
        kind=EntryKind.CORRECTION,
        payload={
            "author": author_payload(professional, participant.role),
            "corrects": {"entry_id": str(target.id), "seq": target.seq, "kind": target.kind.value},
            **correction.model_dump(mode="json"),
        },
        author_kind="professional",
        author_id=str(professional.id),
        consultation_id=consultation.id,
        corrects_id=target.id,
    )
