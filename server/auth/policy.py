"""Authorization rules, as pure functions of the caller and the resource.

- Patients and guests (invite sessions) see only the one consultation their invite admits
  them to, and a patient their own registry entry.
- A profissional sees the consultations they take part in and, when regulador, their
  Núcleo's queue; they may register patients and create consultations.
- A gestor sees their Núcleo's data (consultations, professionals, linked Pontos, audit)
  and registers Núcleos, Pontos and professionals.
Handlers load the resource, then ask here; a refusal is a 404 for things the caller may not
know exist and a 403 for actions on things they can see.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from server.auth.tokens import Caller, CallerKind
from server.db.models import (
    AccountRole,
    Consultation,
    ConsultationParticipant,
    ConsultationStatus,
    Patient,
)


def is_professional(caller: Caller) -> bool:
    return caller.kind is CallerKind.PROFESSIONAL


def is_gestor(caller: Caller) -> bool:
    return is_professional(caller) and caller.role is AccountRole.GESTOR


def is_profissional(caller: Caller) -> bool:
    return is_professional(caller) and caller.role is AccountRole.PROFISSIONAL


def can_register_units(caller: Caller) -> bool:
    """Núcleos, Pontos and professional accounts are registered by gestores."""
    return is_gestor(caller)


def can_register_in_nucleo(caller: Caller, nucleo_id: uuid.UUID | None) -> bool:
    """A gestor registers Pontos and professionals only into their own Núcleo."""
    return is_gestor(caller) and nucleo_id is not None and nucleo_id == caller.nucleo_id


def can_browse_directory(caller: Caller) -> bool:
    """Núcleos, Pontos and professionals are listed to logged-in professionals only."""
    return is_professional(caller)


def can_create_patient(caller: Caller) -> bool:
    return is_professional(caller)


def can_search_patients(caller: Caller) -> bool:
    return is_professional(caller)


def can_read_patient(caller: Caller, patient: Patient) -> bool:
    """Registry data (not the record): professionals, and the patient themself."""
    if caller.kind is CallerKind.PATIENT:
        return caller.patient_id == patient.id
    return is_professional(caller)


def can_create_consultation(caller: Caller) -> bool:
    return is_professional(caller)


def active_participants(
    participants: Iterable[ConsultationParticipant],
) -> list[ConsultationParticipant]:
    return [p for p in participants if p.removed_at is None]


def takes_part(caller: Caller, participants: Iterable[ConsultationParticipant]) -> bool:
    active = active_participants(participants)
    if caller.kind is CallerKind.PROFESSIONAL:
        return any(p.professional_id == caller.subject_id for p in active)
    return any(p.id == caller.subject_id for p in active)


def in_nucleo(caller: Caller, consultation: Consultation) -> bool:
    return caller.nucleo_id is not None and consultation.nucleo_id == caller.nucleo_id


def can_view_consultation(
    caller: Caller, consultation: Consultation, participants: Iterable[ConsultationParticipant]
) -> bool:
    participants = list(participants)
    if caller.kind in (CallerKind.PATIENT, CallerKind.GUEST):
        return caller.consultation_id == consultation.id and takes_part(caller, participants)
    if takes_part(caller, participants):
        return True
    if caller.role is AccountRole.GESTOR or caller.is_regulador:
        return in_nucleo(caller, consultation)
    return False


def can_manage_consultation(
    caller: Caller, consultation: Consultation, participants: Iterable[ConsultationParticipant]
) -> bool:
    """Schedule, change participants, issue invites, cancel: professionals in charge of it."""
    if not is_professional(caller):
        return False
    return can_view_consultation(caller, consultation, participants)


def is_open(consultation: Consultation) -> bool:
    return consultation.status in (ConsultationStatus.SCHEDULED, ConsultationStatus.IN_PROGRESS)


def can_read_audit(caller: Caller, nucleo_id: uuid.UUID | None) -> bool:
    return is_gestor(caller) and nucleo_id is not None and nucleo_id == caller.nucleo_id
