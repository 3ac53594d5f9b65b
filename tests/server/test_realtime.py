"""The server side of the live room: what it writes (SQLite and PostgreSQL), invites, TURN."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
import socketio
from sqlalchemy import select

from server.chat import ChatMessage, consultation_channel
from server.db.base import utcnow
from server.db.models import (
    Attendance,
    AuditEvent,
    Consultation,
    ConsultationMode,
    ConsultationStatus,
    Invite,
)
from server.realtime import ice_servers_for, turn_credentials
from server.records.models import EntryKind, RecordEntry
from signaling import SignalingConfig
from tests.conftest import make_settings
from tests.media.synthetic import Clip
from tests.signaling.live import (
    Live,
    Peer,
    book,
    eventually,
    load_clips,
    peer_factory,
    record_consent,
    serve,
)

Peers = Callable[..., Peer]


# The live-server support is shared with tests/signaling (tests/signaling/live.py).
@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Clip, Clip]:
    return load_clips(tmp_path_factory)


@pytest.fixture
async def peers(clips: tuple[Clip, Clip]) -> AsyncIterator[Peers]:
    async for make in peer_factory(clips):
        yield make


@pytest.fixture
async def live_db(db_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async for live in serve(db_url, tmp_path):
        yield live


# ---------------------------------------------------------------------------- ICE / TURN


def test_turn_credentials_follow_the_coturn_rest_scheme() -> None:
    username, credential = turn_credentials("coturn-static-secret", "abc", 3600, 1700018000.7)
    assert username == "1700021600:abc"
    # base64(HMAC-SHA1("coturn-static-secret", "1700021600:abc"))
    assert credential == "+/iEpNi5FVbKPuzlrayo6gT5wkg="


def test_ice_servers_carry_stun_and_time_limited_turn_only_when_a_secret_is_set(
    tmp_path: Path,
) -> None:
    base = {"stun_urls": ["stun:stun.example.org:3478"], "turn_urls": ["turn:t.example.org"]}
    without = ice_servers_for(make_settings("sqlite://", tmp_path, **base), "p1")
    assert without == [{"urls": ["stun:stun.example.org:3478"]}]
    settings = make_settings("sqlite://", tmp_path, turn_secret="s" * 40, **base)
    _stun, turn = ice_servers_for(settings, "p1")
    assert turn["urls"] == ["turn:t.example.org"]
    expiry, participant = turn["username"].split(":")
    assert participant == "p1"
    remaining = int(expiry) - utcnow().timestamp()
    assert settings.turn_credential_ttl_s - 5 < remaining <= settings.turn_credential_ttl_s
    assert turn["credential"] == turn_credentials("s" * 40, "p1", 0, int(expiry))[1]


# ---------------------------------------------------------------------------- admission


async def _refusal(peer: Peer) -> str:
    try:
        await peer.connect()
    except socketio.exceptions.ConnectionError:
        return str(peer.events["connect_error"][0]["data"]["code"])
    raise AssertionError("the connection was accepted")


async def test_a_revoked_or_expired_invite_is_refused_at_connect(
    live_db: Live, peers: Peers
) -> None:
    booking = await book(live_db, guests=1)
    assert booking.patient is not None
    patient_invite = booking.patient.invite_id
    guest_invite = booking.guests[0].invite_id
    async with live_db.sessions.begin() as db:
        revoked = await db.get(Invite, patient_invite)
        expired = await db.get(Invite, guest_invite)
        assert revoked is not None and expired is not None
        revoked.revoked_at = utcnow()
        expired.expires_at = utcnow() - timedelta(minutes=1)
    assert await _refusal(peers(live_db, booking.patient.token, webrtc=False)) == "invite_revoked"
    assert await _refusal(peers(live_db, booking.guests[0].token, webrtc=False)) == (
        "invite_expired"
    )


async def test_an_asynchronous_consultation_has_no_video_room(live_db: Live, peers: Peers) -> None:
    booking = await book(live_db, mode=ConsultationMode.ASYNC)
    doctor = peers(live_db, booking.professionals[0].token, webrtc=False)
    await doctor.connect()
    ack = await doctor.call("join", {"consultation_id": str(booking.consultation_id)})
    assert ack["error"]["code"] == "not_a_video_consultation"


# ---------------------------------------------------------------------------- session log


async def _attendances(live: Live, participant_id: uuid.UUID) -> list[Attendance]:
    async with live.sessions() as db:
        rows = await db.scalars(
            select(Attendance)
            .where(Attendance.participant_id == participant_id)
            .order_by(Attendance.joined_at)
        )
        return list(rows)


async def test_the_consultation_records_start_end_and_every_stay(
    live_db: Live, peers: Peers
) -> None:
    booking = await book(live_db)
    await record_consent(live_db, booking)
    assert booking.patient is not None
    patient = peers(live_db, booking.patient.token, webrtc=False)
    await patient.connect()
    await patient.join(booking.consultation_id)
    async with live_db.sessions() as db:
        consultation = await db.get(Consultation, booking.consultation_id)
        assert consultation is not None
        assert consultation.status is ConsultationStatus.SCHEDULED  # a patient alone starts nothing
    assert (await patient.call("leave", {}))["ok"]
    await patient.join(booking.consultation_id)

    doctor = peers(live_db, booking.professionals[0].token, webrtc=False)
    await doctor.connect()
    ack = await doctor.join(booking.consultation_id)
    assert ack["consultation"]["status"] == "in_progress" and ack["consultation"]["started_at"]
    ended = await doctor.call("end", {})
    assert ended["ok"]

    async with live_db.sessions() as db:
        consultation = await db.get(Consultation, booking.consultation_id)
        assert consultation is not None
        assert consultation.status is ConsultationStatus.ENDED
        assert consultation.started_at is not None and consultation.ended_at is not None
        assert consultation.started_at <= consultation.ended_at
        assert consultation.ended_at.isoformat() == ended["ended_at"]
        summary = await db.scalar(
            select(RecordEntry).where(
                RecordEntry.consultation_id == booking.consultation_id,
                RecordEntry.kind == EntryKind.SESSION_SUMMARY,
            )
        )
        assert summary is not None
        actions = set(
            await db.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.consultation_id == booking.consultation_id
                )
            )
        )
    assert {"join", "leave", "end"} <= actions
    patient_stays = await _attendances(live_db, booking.patient.participant_id)
    doctor_stays = await _attendances(live_db, booking.professionals[0].participant_id)
    assert [s.leave_reason for s in patient_stays] == ["client_leave", "consultation_ended"]
    assert [s.leave_reason for s in doctor_stays] == ["consultation_ended"]
    assert all(s.left_at is not None and s.joined_at <= s.left_at for s in patient_stays)


@pytest.fixture
async def live_quick(db_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    """The live server with short reconnect-grace and empty-room timers."""
    config = SignalingConfig(reconnect_grace_s=0.5, empty_end_timeout_s=0.5)
    async for live in serve(db_url, tmp_path, config):
        yield live


async def test_a_dropped_socket_keeps_its_stay_open_until_the_grace_period_ends(
    live_quick: Live, peers: Peers
) -> None:
    live = live_quick
    booking = await book(live, patient=False, professionals=2)
    a = peers(live, booking.professionals[0].token, webrtc=False)
    b = peers(live, booking.professionals[1].token, webrtc=False)
    for peer in (a, b):
        await peer.connect()
        await peer.join(booking.consultation_id)
    await b.sio.disconnect()
    await eventually(lambda: a.presence("reconnecting", b.participant_id))
    await eventually(lambda: a.presence("left", b.participant_id))
    assert a.presence("left", b.participant_id)[0]["reason"] == "disconnected"
    stays = await _attendances(live, booking.professionals[1].participant_id)
    assert [s.leave_reason for s in stays] == ["disconnected"]

    # The last one leaving a started consultation ends it once the room stays empty.
    assert (await a.call("leave", {}))["ok"]
    status = None
    for _ in range(100):
        async with live.sessions() as db:
            row = await db.get(Consultation, booking.consultation_id)
        status = None if row is None else row.status
        if status is ConsultationStatus.ENDED:
            break
        await asyncio.sleep(0.1)
    assert status is ConsultationStatus.ENDED
    assert [s.leave_reason for s in await _attendances(live, uuid.UUID(a.participant_id))] == [
        "client_leave"
    ]


# ---------------------------------------------------------------------------- chat


async def test_chat_is_acknowledged_only_after_commit_and_retries_never_duplicate(
    live_db: Live, peers: Peers
) -> None:
    booking = await book(live_db, professionals=2, patient=False)
    a = peers(live_db, booking.professionals[0].token, webrtc=False)
    b = peers(live_db, booking.professionals[1].token, webrtc=False)
    for peer in (a, b):
        await peer.connect()
        await peer.join(booking.consultation_id)

    sent = await a.call("chat_send", {"client_msg_id": "m-1", "text": "  Bom dia  "})
    assert sent["ok"] and sent["created"] is True
    message = sent["message"]
    # A separate session sees the row the moment the ack arrives: it was committed first.
    async with live_db.sessions() as db:
        row = await db.get(ChatMessage, message["id"])
    assert row is not None and row.text == "Bom dia"
    assert row.channel == consultation_channel(booking.consultation_id)
    assert message["author"] == {
        "kind": "professional",
        "participant_id": a.participant_id,
        "display_name": "Dra. Profissional 0",
    }

    retry = await a.call("chat_send", {"client_msg_id": "m-1", "text": "Bom dia"})
    assert retry["ok"] and retry["created"] is False and retry["message"]["id"] == message["id"]
    later = await b.call("chat_send", {"client_msg_id": "m-2", "text": "Olá"})
    async with live_db.sessions() as db:
        rows = list(
            await db.scalars(
                select(ChatMessage.client_msg_id).where(
                    ChatMessage.channel == consultation_channel(booking.consultation_id)
                )
            )
        )
    assert sorted(rows) == ["m-1", "m-2"]
    await eventually(lambda: len(b.events["chat_message"]) == 1)
    assert b.events["chat_message"][0]["message"]["id"] == message["id"]

    after = await b.call("chat_history", {"after_id": message["id"]})
    assert [m["id"] for m in after["messages"]] == [later["message"]["id"]]
    assert after["has_more"] is False
    first = await b.call("chat_history", {"limit": 1})
    assert [m["id"] for m in first["messages"]] == [message["id"]] and first["has_more"]
    read = await a.call("chat_read", {"last_id": later["message"]["id"]})
    assert read == {"ok": True, "last_read_id": later["message"]["id"]}
    await eventually(lambda: b.events["chat_read"])
    empty = await a.call("chat_send", {"client_msg_id": "m-3", "text": "   "})
    assert empty["error"]["code"] == "invalid_chat_message"

    rejoined = await b.call("leave", {}), await b.join(booking.consultation_id)
    assert rejoined[1]["chat"]["last_id"] == later["message"]["id"]
    async with live_db.sessions() as db:
        audited = list(
            await db.scalars(
                select(AuditEvent.action).where(AuditEvent.resource_type == "chat_message")
            )
        )
    assert audited.count("create") == 2 and "read" in audited
