"""Who may see and act on a case, as pure functions of the caller and the case.

- The solicitante sees their own cases.
- A regulador sees the queue of their Núcleo (every case addressed to it).
- The assigned specialist sees the cases in their inbox.
Everyone else (including the Núcleo's gestor, who reads aggregated reports only) gets a 404:
they may not even know a case exists.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Protocol

from server.auth.tokens import Caller, CallerKind


class CaseRole(StrEnum):
    SOLICITANTE = "solicitante"
    REGULADOR = "regulador"
    SPECIALIST = "teleconsultor"


def is_regulador_of(caller: Caller, nucleo_id: uuid.UUID) -> bool:
    return (
        caller.kind is CallerKind.PROFESSIONAL
        and caller.is_regulador
        and caller.nucleo_id is not None
        and caller.nucleo_id == nucleo_id
    )


class CaseParties(Protocol):
    """What access depends on: a ``Case``, or the few columns of it the chat's batch reads."""

    @property
    def solicitante_id(self) -> uuid.UUID: ...
    @property
    def nucleo_id(self) -> uuid.UUID: ...
    @property
    def specialist_id(self) -> uuid.UUID | None: ...


def case_roles(caller: Caller, case: CaseParties) -> frozenset[CaseRole]:
    if caller.kind is not CallerKind.PROFESSIONAL:
        return frozenset()
    roles = set()
    if case.solicitante_id == caller.subject_id:
        roles.add(CaseRole.SOLICITANTE)
    if is_regulador_of(caller, case.nucleo_id):
        roles.add(CaseRole.REGULADOR)
    if case.specialist_id is not None and case.specialist_id == caller.subject_id:
        roles.add(CaseRole.SPECIALIST)
    return frozenset(roles)


def can_view_case(caller: Caller, case: CaseParties) -> bool:
    return bool(case_roles(caller, case))
