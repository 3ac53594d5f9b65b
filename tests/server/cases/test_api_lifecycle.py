"""The case lifecycle over HTTP: who may do what, from which status, and the trail it leaves."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cases.models import Case, CaseTransition
from server.db.models import AuditEvent, Consultation, ConsultationStatus
from server.records.models import RecordEntry
from tests.server.cases.world import act, answered_case, make_world, open_case
from tests.support.factories import TestClientT, auth_header, count_rows


async def test_a_case_goes_from_submission_to_closing_with_every_transition_recorded(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world, patient_age_years=54, patient_sex="F")
    assert case["status"] == "submitted"
    case_id = case["id"]
    await act(client, world.regulador, case_id, "claim")
    await act(client, world.regulador, case_id, "request-info", {"reason": "Qual a creatinina?"})
    back = await act(
        client, world.solicitante, case_id, "provide-info", {"text": "Creatinina 1,1."}
    )
    assert back["status"] == "in_regulation"
    await act(
        client, world.regulador, case_id, "assign", {"specialist_id": str(world.specialist.id)}
    )
    answered = await act(
        client, world.specialist, case_id, "answer", {"text": "Dosar aldosterona."}
    )
    assert answered["status"] == "answered" and answered["answered_at"]
    again = await act(client, world.solicitante, case_id, "follow-up", {"text": "E se vier alta?"})
    assert again["status"] == "assigned"
    await act(client, world.specialist, case_id, "answer", {"text": "Encaminhar ao endócrino."})
    closed = await act(
        client, world.solicitante, case_id, "close", {"satisfaction": 5, "referral_avoided": True}
    )
    assert closed["status"] == "closed"
    assert closed["satisfaction"] == 5 and closed["referral_avoided"] is True
    steps = [(t["action"], t["from"], t["to"]) for t in closed["transitions"]]
    assert steps == [
        ("submit", None, "submitted"),
        ("claim", "submitted", "in_regulation"),
        ("request_info", "in_regulation", "more_info_requested"),
        ("provide_info", "more_info_requested", "in_regulation"),
        ("assign", "in_regulation", "assigned"),
        ("answer", "assigned", "answered"),
        ("follow_up", "answered", "assigned"),
        ("answer", "assigned", "answered"),
        ("close", "answered", "closed"),
    ]
    actors = {t["actor_id"] for t in closed["transitions"]}
    assert actors == {str(world.solicitante.id), str(world.regulador.id), str(world.specialist.id)}
    async with sessions() as db:
        stored = await db.get(Case, uuid.UUID(case["id"]))
        assert stored is not None
        consultation = await db.get(Consultation, stored.consultation_id)
        assert consultation is not None and consultation.status is ConsultationStatus.ENDED


async def test_the_answer_deadline_is_72_hours_from_receipt_by_default_split_24_and_48(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    from datetime import datetime

    received = datetime.fromisoformat(case["received_at"])
    assert (
        datetime.fromisoformat(case["regulation_due_at"]) - received
    ).total_seconds() == 24 * 3600
    assert (datetime.fromisoformat(case["answer_due_at"]) - received).total_seconds() == 72 * 3600


async def test_a_transition_not_allowed_from_the_current_status_is_a_409_and_changes_nothing(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    before = await count_rows(sessions, CaseTransition)
    await act(
        client, world.regulador, case["id"], "assign", {"specialist_id": str(world.specialist.id)}
    )
    refused = await act(
        client, world.regulador, case["id"], "refuse", {"reason": "Fora do escopo"}, status=409
    )
    assert refused["error"]["code"] == "invalid_transition"
    assert "com o especialista" in refused["error"]["message"]
    closing = await act(
        client,
        world.solicitante,
        case["id"],
        "close",
        {"satisfaction": 4, "referral_avoided": False},
        status=409,
    )
    assert closing["error"]["code"] == "invalid_transition"
    assert await count_rows(sessions, CaseTransition) == before + 1
    async with sessions() as db:
        stored = await db.get(Case, uuid.UUID(case["id"]))
        assert stored is not None and stored.status.value == "assigned"


async def test_only_the_right_role_may_act_and_strangers_do_not_see_the_case(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    denied = await act(client, world.solicitante, case["id"], "claim", status=403)
    assert denied["error"]["code"] == "forbidden"
    await act(client, world.specialist, case["id"], "answer", {"text": "x" * 20}, status=404)
    await act(client, world.outsider, case["id"], "claim", status=404)
    response = await client.get(
        f"/api/cases/{case['id']}", headers=auth_header(client, world.gestor)
    )
    assert response.status == 404


async def test_returning_and_refusing_need_a_reason_and_end_the_case(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    first = await open_case(client, world)
    missing = await act(client, world.regulador, first["id"], "refuse", {}, status=422)
    assert missing["error"]["code"] == "invalid_payload"
    refused = await act(
        client, world.regulador, first["id"], "refuse", {"reason": "Não é teleconsultoria"}
    )
    assert refused["status"] == "refused" and refused["outcome_reason"] == "Não é teleconsultoria"
    second = await open_case(client, world)
    returned = await act(
        client, world.regulador, second["id"], "return", {"reason": "Outro Núcleo"}
    )
    assert returned["status"] == "returned"


async def test_the_regulador_queue_sorts_by_due_time_and_flags_overdue_and_due_soon(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from datetime import timedelta

    world = await make_world(sessions)
    fresh = await open_case(client, world)
    late = await open_case(client, world)
    near = await open_case(client, world)
    async with sessions.begin() as db:
        for case_id, hours_ago in ((late["id"], 30), (near["id"], 20)):
            case = await db.get(Case, uuid.UUID(case_id))
            assert case is not None
            shift = timedelta(hours=hours_ago)
            case.received_at -= shift
            case.regulation_due_at -= shift
            case.answer_due_at -= shift
    response = await client.get(
        "/api/cases?view=queue", headers=auth_header(client, world.regulador)
    )
    items = (await response.json())["items"]
    assert [i["id"] for i in items] == [late["id"], near["id"], fresh["id"]]
    flags = {i["id"]: (i["overdue"], i["due_soon"]) for i in items}
    assert flags == {
        late["id"]: (True, False),
        near["id"]: (False, True),
        fresh["id"]: (False, False),
    }
    denied = await client.get(
        "/api/cases?view=queue", headers=auth_header(client, world.specialist)
    )
    assert denied.status == 403


async def test_each_person_sees_their_own_list(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await answered_case(client, world)
    mine = await client.get("/api/cases", headers=auth_header(client, world.solicitante))
    assert [i["id"] for i in (await mine.json())["items"]] == [case["id"]]
    inbox = await client.get("/api/cases?view=inbox", headers=auth_header(client, world.specialist))
    assert [i["id"] for i in (await inbox.json())["items"]] == [case["id"]]
    other = await client.get(
        "/api/cases?view=inbox", headers=auth_header(client, world.other_specialist)
    )
    assert (await other.json())["items"] == []


async def test_a_closed_identified_case_is_written_to_the_patient_record_as_chat_assincrono(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await answered_case(client, world, patient_id=str(world.patient.id))
    await act(
        client,
        world.solicitante,
        case["id"],
        "close",
        {"satisfaction": 4, "referral_avoided": False},
    )
    async with sessions() as db:
        entry = await db.scalar(
            select(RecordEntry).where(RecordEntry.patient_id == world.patient.id)
        )
        assert entry is not None
        assert "chat assíncrono" in str(entry.payload)
        audited = await db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.patient_id == world.patient.id, AuditEvent.resource_type == "case")
        )
        assert audited and audited >= 4


async def test_identified_and_deidentified_patient_data_cannot_be_mixed(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    response = await client.post(
        "/api/cases",
        json={
            "nucleo_id": str(world.nucleo.id),
            "specialty": "Cardiologia",
            "question": "Pergunta suficientemente longa.",
            "patient_id": str(world.patient.id),
            "patient_age_years": 40,
        },
        headers=auth_header(client, world.solicitante),
    )
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "patient_ambiguous"
    assert await count_rows(sessions, Case) == 0
