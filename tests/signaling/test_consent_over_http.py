"""The records API and the live room agree: a consent decision over HTTP takes effect at once."""

from __future__ import annotations

import aiohttp

from media import RoomId
from server.realtime import REALTIME

from .live import Live, book, eventually, record_consent
from .test_namespace import MIC, Peers, joined, receives


async def test_a_consent_revoked_through_the_api_takes_the_patient_out_of_the_media_room(
    live: Live, peers: Peers
) -> None:
    booking = await book(live)
    await record_consent(live, booking)
    assert booking.patient is not None
    doctor = await joined(live, peers, booking.professionals[0].token, booking.consultation_id, "d")
    patient = await joined(live, peers, booking.patient.token, booking.consultation_id, "p")
    await eventually(receives(doctor, [patient], (MIC,)))

    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{live.url}/api/consultations/{booking.consultation_id}/consent",
            json={"decision": "revoked", "channel": "verbal_transcribed"},
            headers={"Authorization": f"Bearer {booking.professionals[0].token}"},
        )
        assert response.status == 201, await response.text()

    # No explicit re-check from anyone: the API told the room.
    await eventually(lambda: patient.presence("waiting", patient.participant_id))
    media_room = live.app[REALTIME].rooms.get(RoomId(str(booking.consultation_id)))
    assert media_room is not None
    assert set(media_room.participants) == {doctor.participant_id}
