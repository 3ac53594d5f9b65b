"""Informed consent (TCLE): record a decision, revoke it, and the gate the media layer asks.

Art. 449 IV and CFM 2.314/2022 art. 15: the patient decides freely and may refuse; art. 450 §2:
the professional registers the consent. A refusal and a revocation are stored like an
acceptance. Rows are append-only; the latest decision for (consultation, patient) counts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.models import (
    Consultation,
    ConsultationStatus,
    Modality,
    Professional,
)
from server.records.chain import append_entry
from server.records.errors import RecordError
from server.records.models import (
    Consent,
    ConsentChannel,
    ConsentDecision,
    ConsentTerm,
    EntryKind,
)
from server.records.terms import current_term_text


async def current_term(db: AsyncSession, modality: Modality) -> ConsentTerm:
    """The current TCLE version for ``modality``, stored on first use."""
    text = current_term_text(modality)
    stmt = select(ConsentTerm).where(
        ConsentTerm.modality == modality, ConsentTerm.version == text.version
    )
    term = await db.scalar(stmt)
    if term is not None:
        return term
    try:
        async with db.begin_nested():
            term = ConsentTerm(
                modality=modality,
                version=text.version,
                title=text.title,
                text=text.text,
                sha256=text.sha256,
            )
            db.add(term)
    except IntegrityError:
        # Another request stored it first: theirs is the same text.
        term = await db.scalar(stmt)
        assert term is not None
    return term


async def current_consent(
    db: AsyncSession, consultation_id: uuid.UUID, patient_id: uuid.UUID
) -> Consent | None:
    consent: Consent | None = await db.scalar(
        select(Consent)
        .where(Consent.consultation_id == consultation_id, Consent.patient_id == patient_id)
        .order_by(Consent.decided_at.desc())
        .limit(1)
    )
    return consent


async def has_consent(db: AsyncSession, consultation_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
    """The media gate: True only while the patient's latest decision is an acceptance.

    Called by the signaling layer before admitting the patient's media, and again to end it
    when a revocation arrives.
    """
    consent = await current_consent(db, consultation_id, patient_id)
    return consent is not None and consent.decision is ConsentDecision.ACCEPTED


@dataclass(frozen=True)
class ConsentRequest:
    decision: ConsentDecision
    channel: ConsentChannel
    term_version: int
    term_sha256: str
    representative_name: str | None = None
    representative_relationship: str | None = None


async def record_consent(
    db: AsyncSession,
    *,
    consultation: Consultation,
    patient_id: uuid.UUID,
    request: ConsentRequest,
    registered_by: Professional | None,
    participant_id: uuid.UUID | None,
) -> Consent:
    """Store one decision and its record entry; raises :class:`RecordError` on a bad request.

    ``registered_by`` is the professional registering a verbal or representative's decision;
    it is None when the patient decided in the browser (``participant_id`` says who clicked).
    """
    _check_channel(request, registered_by)
    if consultation.status in (ConsultationStatus.ENDED, ConsultationStatus.CANCELLED):
        raise RecordError(409, "consultation_closed", "A consulta já terminou ou foi cancelada.")
    term = await current_term(db, consultation.modality)
    if (request.term_version, request.term_sha256) != (term.version, term.sha256):
        raise RecordError(
            409,
            "consent_term_outdated",
            "O termo de consentimento mudou. Leia a versão atual e confirme novamente.",
            [
                {
                    "field": "term_version",
                    "current_version": term.version,
                    "current_sha256": term.sha256,
                }
            ],
        )
    previous = await current_consent(db, consultation.id, patient_id)
    if request.decision is ConsentDecision.REVOKED and (
        previous is None or previous.decision is not ConsentDecision.ACCEPTED
    ):
        raise RecordError(
            409, "nothing_to_revoke", "Não há consentimento em vigor para ser retirado."
        )

    now = utcnow()
    consent = Consent(
        id=uuid.uuid4(),
        consultation_id=consultation.id,
        patient_id=patient_id,
        term_id=term.id,
        term_version=term.version,
        term_sha256=term.sha256,
        channel=request.channel,
        decision=request.decision,
        representative_name=request.representative_name,
        representative_relationship=request.representative_relationship,
        registered_by_id=registered_by.id if registered_by else None,
        registered_by_council=registered_by.council_label if registered_by else None,
        participant_id=participant_id,
        decided_at=now,
    )
    entry = await append_entry(
        db,
        patient_id=patient_id,
        kind=EntryKind.CONSENT,
        payload=consent_payload(consent, term, registered_by),
        author_kind="professional" if registered_by else "patient",
        author_id=str(registered_by.id if registered_by else participant_id),
        consultation_id=consultation.id,
        now=now,
    )
    # The consent row is written once, already pointing at its entry: rows are append-only.
    consent.entry_id = entry.id
    db.add(consent)
    await db.flush()
    return consent


def consent_payload(
    consent: Consent, term: ConsentTerm, registered_by: Professional | None
) -> dict[str, Any]:
    return {
        "consent_id": str(consent.id),
        "decision": consent.decision.value,
        "channel": consent.channel.value,
        "decided_at": consent.decided_at.isoformat(),
        "term": {
            "modality": term.modality.value,
            "version": term.version,
            "title": term.title,
            "sha256": term.sha256,
        },
        "registered_by": (
            {
                "professional_id": str(registered_by.id),
                "name": registered_by.name,
                "council": registered_by.council_label,
                "cbo": registered_by.cbo,
            }
            if registered_by
            else None
        ),
        "representative": (
            {
                "name": consent.representative_name,
                "relationship": consent.representative_relationship,
            }
            if consent.representative_name
            else None
        ),
        "participant_id": str(consent.participant_id) if consent.participant_id else None,
    }


def _check_channel(request: ConsentRequest, registered_by: Professional | None) -> None:
    if request.channel is ConsentChannel.BROWSER:
        if registered_by is not None:
            raise RecordError(
                422,
                "invalid_channel",
                "Um profissional registra o consentimento como verbal ou do representante legal.",
            )
    elif registered_by is None or registered_by.council is None:
        raise RecordError(
            403,
            "forbidden",
            "Só um profissional com registro em conselho pode registrar este consentimento.",
        )
    if request.channel is ConsentChannel.LEGAL_REPRESENTATIVE:
        if not (request.representative_name and request.representative_relationship):
            raise RecordError(
                422,
                "invalid_payload",
                "Informe o nome e o parentesco ou vínculo do representante legal.",
                [
                    {"field": "representative_name", "message": "campo obrigatório"},
                    {"field": "representative_relationship", "message": "campo obrigatório"},
                ],
            )
    elif request.representative_name or request.representative_relationship:
        raise RecordError(
            422,
            "invalid_payload",
            "Dados do representante só valem para o canal representante legal.",
        )
