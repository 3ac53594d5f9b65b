"""The authorization matrix: role × endpoint × owner / not owner, over real HTTP on both DBs.

One world per test: Núcleos A and B; consultation C in A (solicitante ``participant``, patient
P, a guest) and D in B. Each row says which status each actor gets; a refusal on a
consultation the caller cannot see is a 404 (its existence stays private).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import AccountRole, ConsultationParticipant, Professional
from tests.support.factories import (
    add_guest,
    auth_header,
    make_consultation,
    make_nucleo,
    make_patient,
    make_professional,
    new_cnes,
    new_cpf,
)

Client = TestClient[Any, Any]
Sessions = async_sessionmaker[AsyncSession]

ACTORS = (
    "gestor_own",
    "gestor_other",
    "participant",
    "outsider",
    "regulador",
    "patient",
    "other_patient",
    "guest",
)


@dataclass
class World:
    ids: dict[str, str]
    who: dict[str, Professional | ConsultationParticipant]


async def build_world(sessions: Sessions) -> World:
    async with sessions.begin() as db:
        a = await make_nucleo(db, name="Núcleo A")
        b = await make_nucleo(db, name="Núcleo B")
        gestor_own = await make_professional(db, role=AccountRole.GESTOR, nucleo=a)
        gestor_other = await make_professional(db, role=AccountRole.GESTOR, nucleo=b)
        participant = await make_professional(db, nucleo=a)
        outsider = await make_professional(db, nucleo=a)
        regulador = await make_professional(db, nucleo=a, is_regulador=True)
        pro_b = await make_professional(db, nucleo=b)
        p = await make_patient(db)
        q = await make_patient(db)
        c = await make_consultation(db, participant, patient=p, nucleo=a)
        d = await make_consultation(db, pro_b, patient=q, nucleo=b)
        guest = await add_guest(db, c)
    async with sessions() as db:
        patient_part = await db.scalar(
            select(ConsultationParticipant).where(
                ConsultationParticipant.consultation_id == c.id,
                ConsultationParticipant.patient_id == p.id,
            )
        )
        other_part = await db.scalar(
            select(ConsultationParticipant).where(
                ConsultationParticipant.consultation_id == d.id,
                ConsultationParticipant.patient_id == q.id,
            )
        )
    assert patient_part is not None and other_part is not None
    return World(
        ids={"C": str(c.id), "P": str(p.id), "outsider": str(outsider.id), "A": str(a.id)},
        who={
            "gestor_own": gestor_own,
            "gestor_other": gestor_other,
            "participant": participant,
            "outsider": outsider,
            "regulador": regulador,
            "patient": patient_part,
            "other_patient": other_part,
            "guest": guest,
        },
    )


def _later() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).isoformat()


# endpoint name → (method, path template, JSON body factory or None)
ENDPOINTS: dict[str, tuple[str, str, Any]] = {
    "read_consultation": ("GET", "/api/consultations/{C}", None),
    "schedule": ("POST", "/api/consultations/{C}/schedule", lambda w: {"scheduled_for": _later()}),
    "list_invites": ("GET", "/api/consultations/{C}/invites", None),
    "add_participant": (
        "POST",
        "/api/consultations/{C}/participants",
        lambda w: {"role": "teleconsultor", "professional_id": w.ids["outsider"]},
    ),
    "cancel": ("POST", "/api/consultations/{C}/cancel", lambda w: {"reason": "paciente pediu"}),
    "read_patient": ("GET", "/api/patients/{P}", None),
    "search_patients": ("GET", "/api/patients?q=Paciente", None),
    "create_patient": (
        "POST",
        "/api/patients",
        lambda w: {"name": "Nova Pessoa", "cpf": new_cpf(), "birth_date": "1990-01-02"},
    ),
    "create_nucleo": (
        "POST",
        "/api/nucleos",
        lambda w: {
            "name": "Núcleo Novo",
            "type": "municipal",
            "cnes": new_cnes(),
            "uf": "MG",
            "municipality": "Uberlândia",
        },
    ),
    "list_professionals": ("GET", "/api/professionals", None),
    "queue": ("GET", "/api/consultations?scope=queue", None),
    "nucleo_consultations": ("GET", "/api/consultations?scope=nucleo", None),
    "audit": ("GET", "/api/audit", None),
}

MANAGE = {"gestor_own": 0, "gestor_other": 404, "participant": 0, "outsider": 404,
          "regulador": 0, "patient": 403, "other_patient": 404, "guest": 403}  # fmt: skip
PROFESSIONALS_ONLY = {"patient": 403, "other_patient": 403, "guest": 403}
GESTOR_ONLY = {a: 403 for a in ACTORS if a not in ("gestor_own", "gestor_other")}

# Expected status per endpoint and actor; 0 means "the endpoint's success status".
EXPECTED: dict[str, dict[str, int]] = {
    "read_consultation": {
        **{a: 0 for a in ACTORS},
        "gestor_other": 404,
        "outsider": 404,
        "other_patient": 404,
    },
    "schedule": MANAGE,
    "list_invites": MANAGE,
    "add_participant": MANAGE,
    "cancel": MANAGE,
    "read_patient": {**{a: 0 for a in ACTORS}, "other_patient": 403, "guest": 403},
    "search_patients": {**{a: 0 for a in ACTORS}, **PROFESSIONALS_ONLY},
    "create_patient": {**{a: 0 for a in ACTORS}, **PROFESSIONALS_ONLY},
    "create_nucleo": {**{a: 0 for a in ACTORS}, **GESTOR_ONLY},
    "list_professionals": {**{a: 0 for a in ACTORS}, **PROFESSIONALS_ONLY},
    # Invite sessions see only their own consultation whatever the scope.
    "queue": {
        **{a: 403 for a in ACTORS},
        "regulador": 0,
        "patient": 0,
        "other_patient": 0,
        "guest": 0,
    },
    "nucleo_consultations": {
        **{a: 403 for a in ACTORS},
        "gestor_own": 0,
        "gestor_other": 0,
        "regulador": 0,
        "patient": 0,
        "other_patient": 0,
        "guest": 0,
    },
    "audit": {**{a: 403 for a in ACTORS}, "gestor_own": 0, "gestor_other": 0},
}
SUCCESS = {"POST": {"create_patient": 201, "create_nucleo": 201, "add_participant": 201}}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_authorization_matrix(client: Client, sessions: Sessions, endpoint: str) -> None:
    """One row of the matrix: every actor, each against a fresh world of its own.

    Actors are columns inside the test (not separate test ids) so that one database per
    backend serves the whole row; a fresh world per actor keeps writes from leaking across.
    """
    method, template, body = ENDPOINTS[endpoint]
    success = SUCCESS.get(method, {}).get(endpoint, 200)
    got: dict[str, int] = {}
    for actor in ACTORS:
        world = await build_world(sessions)
        response = await client.request(
            method,
            template.format(**world.ids),
            json=body(world) if body else None,
            headers=auth_header(client, world.who[actor]),
        )
        payload = await response.json()
        got[actor] = response.status
        if response.status >= 400:
            assert payload["error"]["code"] in {"forbidden", "not_found"}, payload
            assert payload["error"]["message"]
    expected = {actor: EXPECTED[endpoint][actor] or success for actor in ACTORS}
    assert got == expected


async def test_a_patient_listing_sees_only_their_own_consultation(
    client: Client, sessions: Sessions
) -> None:
    world = await build_world(sessions)
    response = await client.get(
        "/api/consultations", headers=auth_header(client, world.who["patient"])
    )
    rows = await response.json()
    assert [r["id"] for r in rows] == [world.ids["C"]]
    assert rows[0]["my_participant_id"] == str(world.who["patient"].id)


async def test_a_gestor_sees_only_their_nucleos_audit_events(
    client: Client, sessions: Sessions
) -> None:
    world = await build_world(sessions)
    await client.get(
        f"/api/consultations/{world.ids['C']}",
        headers=auth_header(client, world.who["participant"]),
    )
    own = await (
        await client.get("/api/audit", headers=auth_header(client, world.who["gestor_own"]))
    ).json()
    other = await (
        await client.get("/api/audit", headers=auth_header(client, world.who["gestor_other"]))
    ).json()
    assert any(e["consultation_id"] == world.ids["C"] and e["action"] == "read" for e in own)
    assert all(e["nucleo_id"] == world.ids["A"] for e in own)
    assert not any(e["consultation_id"] == world.ids["C"] for e in other)
