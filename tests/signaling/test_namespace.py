"""The /consultation namespace through the real server: real Socket.IO, real WebRTC (aiortc)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from media import RoomId, TrackSource
from server.realtime import REALTIME

from .live import NAMESPACE, Live, Peer, book, eventually, record_consent

MIC, CAM, SCREEN = TrackSource.MICROPHONE, TrackSource.CAMERA, TrackSource.SCREEN
Peers = Callable[..., Peer]


def receives(
    peer: Peer, others: list[Peer], sources: tuple[TrackSource, ...] = (MIC, CAM)
) -> Callable[[], bool]:
    return lambda: all(
        peer.packets_from(other.participant_id, source) > 5
        for other in others
        for source in sources
    )


async def joined(
    live: Live, peers: Peers, token: str, consultation_id: uuid.UUID, name: str
) -> Peer:
    peer = peers(live, token, name)
    await peer.connect()
    await peer.join(consultation_id)
    return peer


def error_code(ack: Any) -> str:
    assert ack["ok"] is False, ack
    assert ack["error"]["message"], ack
    return str(ack["error"]["code"])


# ---------------------------------------------------------------------------- media


async def test_professional_and_patient_each_receive_the_others_audio_and_video(
    live: Live, peers: Peers
) -> None:
    booking = await book(live)
    await record_consent(live, booking)
    assert booking.patient is not None
    doctor = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "d")
    patient = peers(live, booking.patient.token, "patient")
    await patient.connect()
    ack = await patient.join(booking.consultation_id)
    assert ack["admitted"] and ack["kind"] == "patient" and ack["role"] == "paciente"
    assert ack["consultation"]["status"] == "in_progress"
    assert {p["participant_id"] for p in ack["participants"]} == {
        doctor.participant_id,
        patient.participant_id,
    }
    await eventually(receives(doctor, [patient]))
    await eventually(receives(patient, [doctor]))
    assert doctor.presence("joined", patient.participant_id)
    assert patient.events["offer"][0]["new_peer_connection"] is True
    # Trickled candidates (the browser's) are accepted once negotiated, end-of-candidates too.
    host = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"
    assert await patient.call("ice_candidate", {"candidate": host, "sdpMid": "0"}) == {"ok": True}
    end = {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": None}
    assert await patient.call("ice_candidate", end) == {"ok": True}


async def test_a_candidate_trickled_before_the_answer_is_applied_is_buffered(
    live: Live, peers: Peers
) -> None:
    booking = await book(live, patient=False, professionals=2)
    a = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "a")
    b = peers(live, booking.professionals[1].token, "b")
    early: list[Any] = []

    async def candidate_first(offer: dict[str, Any]) -> Any:
        # A browser starts trickling right after setLocalDescription, before its ack lands.
        host = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"
        early.append(await b.call("ice_candidate", {"candidate": host, "sdpMid": "0"}))
        b.answer_with = None
        return await b._on_offer(offer)

    b.answer_with = candidate_first
    await b.connect()
    await b.join(booking.consultation_id)
    await eventually(lambda: early)
    assert early == [{"ok": True, "buffered": True}]
    await eventually(lambda: receives(a, [b])() and receives(b, [a])())


async def test_in_a_four_party_teleinterconsulta_everyone_receives_everyone(
    live: Live, peers: Peers
) -> None:
    booking = await book(live, professionals=3)
    await record_consent(live, booking)
    assert booking.patient is not None
    tokens = [seat.token for seat in booking.professionals] + [booking.patient.token]
    room = [
        await joined(live, peers, token, booking.consultation_id, f"p{i}")
        for i, token in enumerate(tokens)
    ]
    for peer in room:
        await eventually(receives(peer, [other for other in room if other is not peer]), 45)


async def test_a_participant_who_drops_and_rejoins_gets_media_back_and_the_others_keep_theirs(
    live: Live, peers: Peers
) -> None:
    booking = await book(live, professionals=2)
    await record_consent(live, booking)
    assert booking.patient is not None
    a = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "a")
    b = await joined(live, peers, booking.professionals[1].token, booking.consultation_id, "b")
    patient = await joined(live, peers, booking.patient.token, booking.consultation_id, "pt")
    await eventually(lambda: receives(a, [b, patient])() and receives(b, [a, patient])())

    await patient.sio.disconnect()  # the Wi-Fi drops: no `leave`
    await eventually(lambda: a.presence("reconnecting", patient.participant_id))
    before = a.packets_from(b.participant_id, CAM), b.packets_from(a.participant_id, CAM)
    await eventually(
        lambda: (
            a.packets_from(b.participant_id, CAM) > before[0] + 30
            and b.packets_from(a.participant_id, CAM) > before[1] + 30
        )
    )

    back = peers(live, booking.patient.token, "pt-again")
    await back.connect()
    ack = await back.join(booking.consultation_id)
    assert ack["reconnected"] and ack["participant_id"] == patient.participant_id
    await eventually(receives(back, [a, b]))
    await eventually(lambda: a.presence("reconnected", patient.participant_id))
    mark = a.packets_from(patient.participant_id, CAM)
    await eventually(lambda: a.packets_from(patient.participant_id, CAM) > mark + 30)
    assert not a.presence("left", patient.participant_id)


async def test_a_screen_share_reaches_the_others(live: Live, peers: Peers) -> None:
    booking = await book(live)
    await record_consent(live, booking)
    assert booking.patient is not None
    doctor = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "d")
    patient = await joined(live, peers, booking.patient.token, booking.consultation_id, "p")
    await eventually(lambda: doctor.media is not None and patient.media is not None)
    assert doctor.media is not None
    doctor.media.share_screen = True
    assert (await doctor.call("screen_share_start", {}))["ok"]
    slots = doctor.events["offer"][-1]["slots"]
    assert {"direction": "publish", "source": "screen"}.items() <= slots[-1].items() or any(
        s["direction"] == "publish" and s["source"] == "screen" for s in slots
    )
    await eventually(lambda: patient.packets_from(doctor.participant_id, SCREEN) > 5)
    sharing = patient.presence("screen_share", doctor.participant_id)
    assert sharing and sharing[-1]["participant"]["screen_sharing"] is True
    assert (await doctor.call("screen_share_stop", {}))["ok"]
    await eventually(
        lambda: (
            patient.presence("screen_share", doctor.participant_id)[-1]["participant"][
                "screen_sharing"
            ]
            is False
        )
    )


async def test_mute_is_broadcast_as_presence(live: Live, peers: Peers) -> None:
    booking = await book(live, patient=False, professionals=2)
    a = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "a")
    b = await joined(live, peers, booking.professionals[1].token, booking.consultation_id, "b")
    assert (await a.call("mute", {"source": "microphone", "muted": True}))["ok"]
    await eventually(lambda: b.presence("muted", a.participant_id))
    assert b.presence("muted", a.participant_id)[-1]["participant"]["muted"] == {
        "microphone": True,
        "camera": False,
    }


# ---------------------------------------------------------------------------- waiting room


async def test_a_patient_who_arrives_first_waits_and_is_admitted_when_the_professional_joins(
    live: Live, peers: Peers
) -> None:
    booking = await book(live)
    await record_consent(live, booking)
    assert booking.patient is not None
    patient = peers(live, booking.patient.token, "p")
    await patient.connect()
    ack = await patient.join(booking.consultation_id)
    assert (ack["admitted"], ack["hold_reason"]) == (False, "waiting_for_professional")
    assert (await patient.call("mute", {"source": "camera", "muted": True}))["ok"]
    assert not patient.events["offer"]
    assert error_code(await patient.call("ice_candidate", {"candidate": "", "sdpMid": "0"})) == (
        "not_admitted"
    )

    doctor = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "d")
    await eventually(lambda: patient.presence("admitted", patient.participant_id))
    await eventually(receives(doctor, [patient], (MIC,)))


async def test_a_patient_without_consent_is_held_and_no_media_is_admitted(
    live: Live, peers: Peers
) -> None:
    booking = await book(live)
    assert booking.patient is not None
    doctor = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "d")
    patient = peers(live, booking.patient.token, "p")
    await patient.connect()
    ack = await patient.join(booking.consultation_id)
    assert (ack["admitted"], ack["hold_reason"]) == (False, "consent_required")
    waiting = await _wait_presence(doctor, "waiting", patient.participant_id)
    assert waiting["reason"] == "consent_required"
    # The waiting room may chat, but its media is not admitted.
    sent = await patient.call("chat_send", {"client_msg_id": "w1", "text": "Estou aguardando"})
    assert sent["ok"]
    assert error_code(await patient.call("screen_share_start", {})) == "not_admitted"
    refused = await doctor.call("admit", {"participant_id": patient.participant_id})
    assert error_code(refused) == "consent_required"
    assert not patient.events["offer"]
    media_room = live.app[REALTIME].rooms.get(RoomId(str(booking.consultation_id)))
    assert media_room is not None and set(media_room.participants) == {doctor.participant_id}

    assert error_code(await patient.call("admit", {"participant_id": doctor.participant_id})) == (
        "forbidden"
    )
    await record_consent(live, booking)
    # The patient asks for their own re-check right after consenting (a professional could too).
    admitted = await patient.call("admit", {"participant_id": patient.participant_id})
    assert admitted == {"ok": True, "admitted": True}
    await eventually(receives(doctor, [patient], (MIC,)))


async def test_a_revoked_consent_sends_the_patient_back_to_the_waiting_room(
    live: Live, peers: Peers
) -> None:
    booking = await book(live)
    await record_consent(live, booking)
    assert booking.patient is not None
    doctor = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "d")
    patient = await joined(live, peers, booking.patient.token, booking.consultation_id, "p")
    await eventually(receives(doctor, [patient], (MIC,)))

    await record_consent(live, booking, "revoked")
    await live.app[REALTIME].refresh_admission(str(booking.consultation_id))
    held = await _wait_presence(patient, "waiting", patient.participant_id)
    assert held["reason"] == "consent_required" and held["participant"]["admitted"] is False
    media_room = live.app[REALTIME].rooms.get(RoomId(str(booking.consultation_id)))
    assert media_room is not None and set(media_room.participants) == {doctor.participant_id}
    assert error_code(await patient.call("screen_share_start", {})) == "not_admitted"
    # Chat goes on in the waiting room.
    assert (await patient.call("chat_send", {"client_msg_id": "r1", "text": "Ok"}))["ok"]


async def _wait_presence(peer: Peer, kind: str, participant_id: str) -> dict[str, Any]:
    await eventually(lambda: peer.presence(kind, participant_id))
    return peer.presence(kind, participant_id)[-1]


# ---------------------------------------------------------------------------- refusals


async def test_joining_someone_elses_consultation_is_refused(live: Live, peers: Peers) -> None:
    mine, theirs = await book(live), await book(live)
    assert theirs.patient is not None
    doctor = peers(live, mine.professionals[0].token, "d", webrtc=False)
    patient = peers(live, theirs.patient.token, "p", webrtc=False)
    await doctor.connect()
    await patient.connect()
    for peer, target in ((doctor, theirs), (patient, mine)):
        ack = await peer.call("join", {"consultation_id": str(target.consultation_id)})
        assert error_code(ack) == "not_a_participant"
    ack = await doctor.call("join", {"consultation_id": str(uuid.uuid4())})
    assert error_code(ack) == "consultation_not_found"


async def test_events_before_join_and_after_leave_get_not_joined(live: Live, peers: Peers) -> None:
    booking = await book(live, patient=False)
    doctor = peers(live, booking.professionals[0].token, "d", webrtc=False)
    await doctor.connect()
    for event, payload in (
        ("chat_send", {"client_msg_id": "a", "text": "oi"}),
        ("mute", {"source": "camera", "muted": True}),
        ("leave", {}),
    ):
        assert error_code(await doctor.call(event, payload)) == "not_joined"
    await doctor.join(booking.consultation_id)
    assert error_code(
        await doctor.call("join", {"consultation_id": str(booking.consultation_id)})
    ) == ("already_joined")
    assert (await doctor.call("leave", {}))["ok"]
    assert error_code(await doctor.call("chat_history", {})) == "not_joined"
    # The socket may join again after leaving.
    await doctor.join(booking.consultation_id)


async def test_malformed_payloads_get_an_error_ack_and_the_room_goes_on(
    live: Live, peers: Peers
) -> None:
    booking = await book(live, patient=False, professionals=2)
    a = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "a")
    b = await joined(live, peers, booking.professionals[1].token, booking.consultation_id, "b")
    await eventually(lambda: receives(a, [b])() and receives(b, [a])())
    bad: list[tuple[str, Any, str]] = [
        ("mute", {"source": "camera", "muted": "yes"}, "invalid_payload"),
        ("mute", {"source": "tongue", "muted": True}, "invalid_payload"),
        ("chat_send", {"client_msg_id": "x", "text": "oi", "admin": True}, "invalid_payload"),
        ("chat_send", {"client_msg_id": 7, "text": "oi"}, "invalid_payload"),
        ("chat_send", ["not", "an", "object"], "invalid_payload"),
        ("chat_send", {"client_msg_id": "x", "text": "y" * 5000}, "invalid_payload"),
        ("chat_history", {"after_id": "zero"}, "invalid_payload"),
        ("ice_candidate", {"candidate": "candidate:garbage", "sdpMid": "0"}, "invalid_candidate"),
        ("ice_candidate", {"candidate": "", "sdpMid": "99"}, "invalid_candidate"),
        ("ice_candidate", {"candidate": "", "sdpMLineIndex": 42}, "invalid_candidate"),
        ("ice_candidate", {"candidate": ""}, "invalid_candidate"),
        ("admit", {"participant_id": "not-a-uuid"}, "invalid_payload"),
        ("drop_tables", {}, "unknown_event"),
    ]
    for event, payload, code in bad:
        assert error_code(await a.call(event, payload)) == code, (event, payload)
    details = (await a.call("mute", {"source": "camera"}))["error"]["details"]
    assert details == [{"field": "muted", "code": "missing", "message": "campo obrigatório"}]
    before = b.packets_from(a.participant_id, CAM)
    await eventually(lambda: b.packets_from(a.participant_id, CAM) > before + 30)


async def test_an_oversized_frame_closes_only_that_socket(live: Live, peers: Peers) -> None:
    booking = await book(live, patient=False, professionals=2)
    a = peers(live, booking.professionals[0].token, "a", webrtc=False)
    b = peers(live, booking.professionals[1].token, "b", webrtc=False)
    for peer in (a, b):
        await peer.connect()
        await peer.join(booking.consultation_id)
    await b.sio.emit("chat_send", {"client_msg_id": "big", "text": "x" * 300_000}, NAMESPACE)
    await eventually(lambda: a.presence("reconnecting", b.participant_id))
    assert (await a.call("chat_send", {"client_msg_id": "ok", "text": "sigo aqui"}))["ok"]
    assert (await a.call("chat_history", {}))["messages"][0]["client_msg_id"] == "ok"


async def test_a_hostile_sdp_answer_fails_only_that_participants_media(
    live: Live, peers: Peers
) -> None:
    booking = await book(live, patient=False, professionals=3)
    a = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "a")
    b = await joined(live, peers, booking.professionals[1].token, booking.consultation_id, "b")
    await eventually(lambda: receives(a, [b])() and receives(b, [a])())

    async def hostile(offer: dict[str, Any]) -> dict[str, Any]:
        return {"type": "answer", "sdp": "v=0\r\nm=application 9 UDP/DTLS/SCTP x\r\n" * 50}

    mallory = peers(live, booking.professionals[2].token, "m")
    mallory.answer_with = hostile
    await mallory.connect()
    await mallory.join(booking.consultation_id)
    await eventually(lambda: mallory.events["media_error"])
    assert mallory.events["media_error"][0]["code"] == "invalid_sdp"
    assert mallory.events["media_error"][0]["message"].startswith("A conexão de mídia falhou")
    await eventually(lambda: a.presence("media_failed", mallory.participant_id))
    before = a.packets_from(b.participant_id, CAM), b.packets_from(a.participant_id, CAM)
    await eventually(
        lambda: (
            a.packets_from(b.participant_id, CAM) > before[0] + 30
            and b.packets_from(a.participant_id, CAM) > before[1] + 30
        )
    )


async def test_an_answer_without_the_rooms_codec_is_refused_with_a_reason(
    live: Live, peers: Peers
) -> None:
    booking = await book(live, patient=False)
    doctor = peers(live, booking.professionals[0].token, "d")

    async def without_vp8(offer: dict[str, Any]) -> Any:
        doctor.answer_with = None
        answer = await doctor._on_offer(offer)
        return {"sdp": answer["sdp"].replace("VP8/90000", "VP9/90000")}

    doctor.answer_with = without_vp8
    await doctor.connect()
    await doctor.join(booking.consultation_id)
    await eventually(lambda: doctor.events["media_error"])
    assert doctor.events["media_error"][0]["code"] == "unsupported_codec"


async def test_a_flooding_socket_is_rate_limited(live: Live, peers: Peers) -> None:
    booking = await book(live, patient=False)
    doctor = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "d")
    acks = await asyncio.gather(*(doctor.call("chat_read", {"last_id": 0}) for _ in range(120)))
    codes = {ack["error"]["code"] for ack in acks if not ack["ok"]}
    assert codes == {"rate_limited"}
    assert sum(1 for ack in acks if ack["ok"]) < 80  # the burst (40) plus what refilled meanwhile


async def test_connecting_without_a_valid_token_is_refused_with_a_reason(
    live: Live, peers: Peers
) -> None:
    import socketio

    for token, code in (
        ("", "token_missing"),
        ("a.b.c", "token_invalid"),
        ("nope", "token_invalid"),
    ):
        peer = peers(live, token, "x")
        try:
            await peer.connect()
        except socketio.exceptions.ConnectionError:
            refusal = peer.events["connect_error"][0]
            assert refusal["message"] == code
            assert refusal["data"]["code"] == code and refusal["data"]["message"]
        else:
            raise AssertionError(f"{token!r} was accepted")


async def test_only_a_professional_may_end_and_ending_reaches_everyone(
    live: Live, peers: Peers
) -> None:
    booking = await book(live)
    await record_consent(live, booking)
    assert booking.patient is not None
    doctor = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "d")
    patient = await joined(live, peers, booking.patient.token, booking.consultation_id, "p")
    assert error_code(await patient.call("end", {})) == "forbidden"
    ended = await doctor.call("end", {})
    assert ended["ok"] and ended["ended_at"]
    await eventually(lambda: patient.events["ended"])
    assert patient.events["ended"][0]["reason"] == "ended_by_professional"
    assert patient.events["ended"][0]["by"] == doctor.participant_id
    assert error_code(await patient.call("chat_history", {})) == "not_joined"
    again = await patient.call("join", {"consultation_id": str(booking.consultation_id)})
    assert error_code(again) == "consultation_closed"
    assert live.app[REALTIME].rooms.get(RoomId(str(booking.consultation_id))) is None


async def test_joining_again_from_another_socket_replaces_the_first(
    live: Live, peers: Peers
) -> None:
    booking = await book(live, patient=False)
    first = peers(live, booking.professionals[0].token, "1", webrtc=False)
    second = peers(live, booking.professionals[0].token, "2", webrtc=False)
    await first.connect()
    await second.connect()
    await first.join(booking.consultation_id)
    ack = await second.join(booking.consultation_id)
    assert ack["reconnected"]
    await eventually(lambda: first.events["replaced"])
    assert error_code(await first.call("chat_history", {})) == "not_joined"
    assert (await second.call("chat_history", {}))["ok"]
