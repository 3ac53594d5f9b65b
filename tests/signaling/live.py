"""Test support: a live server on loopback, consultations in the database, Socket.IO peers.

A `Peer` is what the browser app is to the protocol: a python-socketio client on the
/consultation namespace whose `offer` handler answers with an aiortc `SyntheticClient`
(tests/media/synthetic.py) that publishes a pre-encoded clip and counts what it receives.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media import TrackSource
from server.app import create_app
from server.auth.tokens import Caller, CallerKind, hash_invite_token, new_invite_token
from server.db.base import utcnow
from server.db.models import (
    AccountRole,
    Consultation,
    ConsultationMode,
    ConsultationParticipant,
    Council,
    Invite,
    Modality,
    ParticipantRole,
    Patient,
    Professional,
)
from server.keys import DB_SESSIONS, TOKENS
from server.realtime import SIGNALING_CONFIG
from signaling import SignalingConfig
from tests.conftest import make_settings
from tests.media.synthetic import Clip, SyntheticClient, make_clips, offer_from_wire

NAMESPACE = "/consultation"


def load_clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Clip, Clip]:
    video, audio = make_clips(Path(tmp_path_factory.mktemp("clips")))
    return Clip.load(video), Clip.load(audio)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Clip, Clip]:
    return load_clips(tmp_path_factory)


@dataclass
class Live:
    """The real app served on 127.0.0.1, and handles on its database and tokens."""

    app: web.Application
    url: str
    sessions: async_sessionmaker[AsyncSession]

    def professional_token(self, professional_id: uuid.UUID) -> str:
        caller = Caller(CallerKind.PROFESSIONAL, AccountRole.PROFISSIONAL, professional_id)
        return self.app[TOKENS].access_token(caller)


async def serve(
    database_url: str, data_dir: Path, config: SignalingConfig | None = None
) -> AsyncIterator[Live]:
    app = create_app(make_settings(database_url, data_dir))
    app[SIGNALING_CONFIG] = config or SignalingConfig(
        reconnect_grace_s=5, empty_end_timeout_s=1, negotiation_timeout_s=10
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Live(app, str(server.make_url("")).rstrip("/"), app[DB_SESSIONS])
    finally:
        await server.close()


@pytest.fixture
async def live(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    """The live server on SQLite: for tests whose subject is not the database."""
    async for served in serve(sqlite_url, tmp_path):
        yield served


@pytest.fixture
async def live_db(db_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    """The live server on SQLite and on PostgreSQL: for tests of what is written."""
    async for served in serve(db_url, tmp_path):
        yield served


# ---------------------------------------------------------------------------- rows


def _digits(n: int) -> str:
    return "".join(random.choice("0123456789") for _ in range(n))


@dataclass
class Seat:
    participant_id: uuid.UUID
    token: str
    professional_id: uuid.UUID | None = None
    invite_id: uuid.UUID | None = None


@dataclass
class Booking:
    """A consultation with its participants and a connect token for each."""

    consultation_id: uuid.UUID
    patient_id: uuid.UUID | None
    professionals: list[Seat]
    patient: Seat | None
    guests: list[Seat]


async def book(
    live: Live,
    *,
    professionals: int = 1,
    patient: bool = True,
    guests: int = 0,
    modality: Modality = Modality.TELECONSULTA,
    mode: ConsultationMode = ConsultationMode.SYNC,
) -> Booking:
    """Create professionals, a patient and guests, a consultation and its invites."""
    async with live.sessions.begin() as db:
        pros = [
            Professional(
                id=uuid.uuid4(),
                name=f"Dra. Profissional {i}",
                cpf=_digits(11),
                role=AccountRole.PROFISSIONAL,
                council=Council.CRM,
                council_number=_digits(6),
                council_uf="MG",
                cbo="225142",
                password_hash="not-a-real-hash",
            )
            for i in range(professionals)
        ]
        db.add_all(pros)
        person = None
        if patient:
            person = Patient(
                id=uuid.uuid4(), name="João da Silva", cpf=_digits(11), birth_date=date(1970, 1, 2)
            )
            db.add(person)
        await db.flush()
        consultation = Consultation(
            id=uuid.uuid4(),
            modality=modality,
            mode=mode,
            scheduled_for=utcnow(),
            patient_id=None if person is None else person.id,
            created_by_id=pros[0].id,
        )
        db.add(consultation)
        await db.flush()
        roles = [ParticipantRole.TELECONSULTOR, ParticipantRole.SOLICITANTE]
        pro_seats = []
        for i, pro in enumerate(pros):
            row = ConsultationParticipant(
                id=uuid.uuid4(),
                consultation_id=consultation.id,
                role=roles[min(i, 1)],
                professional_id=pro.id,
                display_name=pro.name,
            )
            db.add(row)
            pro_seats.append(Seat(row.id, live.professional_token(pro.id), professional_id=pro.id))

        def invitee(role: ParticipantRole, name: str, patient_id: uuid.UUID | None) -> Seat:
            row = ConsultationParticipant(
                id=uuid.uuid4(),
                consultation_id=consultation.id,
                role=role,
                patient_id=patient_id,
                display_name=name,
            )
            db.add(row)
            token = new_invite_token()
            invite = Invite(
                id=uuid.uuid4(),
                consultation_id=consultation.id,
                participant_id=row.id,
                role=role,
                token_sha256=hash_invite_token(token),
                expires_at=utcnow() + timedelta(hours=1),
                created_by_id=pros[0].id,
            )
            db.add(invite)
            return Seat(row.id, token, invite_id=invite.id)

        patient_seat = (
            None if person is None else invitee(ParticipantRole.PACIENTE, person.name, person.id)
        )
        guest_seats = [
            invitee(ParticipantRole.CONVIDADO, f"Convidado {i}", None) for i in range(guests)
        ]
    return Booking(
        consultation.id,
        None if person is None else person.id,
        pro_seats,
        patient_seat,
        guest_seats,
    )


async def record_consent(live: Live, booking: Booking, decision: str = "accepted") -> None:
    """The professional registers the patient's verbal decision (the real records module)."""
    from server.records.consent import ConsentRequest, current_term
    from server.records.consent import record_consent as record
    from server.records.models import ConsentChannel, ConsentDecision

    assert booking.patient is not None and booking.patient_id is not None
    async with live.sessions.begin() as db:
        consultation = await db.get(Consultation, booking.consultation_id)
        professional = await db.get(Professional, booking.professionals[0].professional_id)
        assert consultation is not None and professional is not None
        term = await current_term(db, consultation.modality)
        await record(
            db,
            consultation=consultation,
            patient_id=booking.patient_id,
            request=ConsentRequest(
                ConsentDecision(decision),
                ConsentChannel.VERBAL_TRANSCRIBED,
                term.version,
                term.sha256,
            ),
            registered_by=professional,
            participant_id=None,
        )


# ---------------------------------------------------------------------------- peers


@dataclass
class Peer:
    """One participant's app: a Socket.IO client and, once offered, an aiortc peer."""

    live: Live
    token: str
    clips: tuple[Clip, Clip]
    name: str = "peer"
    answer_with: Callable[[dict[str, Any]], Awaitable[Any]] | None = None
    "Replace the answering behaviour (hostile clients, or clients without WebRTC)."
    sio: socketio.AsyncClient = field(init=False)
    media: SyntheticClient | None = None
    old_media: list[SyntheticClient] = field(default_factory=list)
    events: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    participant_id: str = ""

    def __post_init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        for event in (
            "presence",
            "chat_message",
            "chat_read",
            "ended",
            "replaced",
            "media_error",
            "connect_error",
        ):
            self.sio.on(event, self._recorder(event), namespace=NAMESPACE)
        self.sio.on("offer", self._on_offer, namespace=NAMESPACE)

    def _recorder(self, event: str) -> Callable[[Any], Awaitable[None]]:
        async def record(data: Any) -> None:
            self.events[event].append(data)

        return record

    async def _on_offer(self, data: dict[str, Any]) -> Any:
        self.events["offer"].append(data)
        if self.answer_with is not None:
            return await self.answer_with(data)
        video, audio = self.clips
        if data["new_peer_connection"] or self.media is None:
            if self.media is not None:
                self.old_media.append(self.media)
            self.media = SyntheticClient(
                self.participant_id or self.name, video, audio, screen=video
            )
        offer = offer_from_wire(data["sdp"], data["slots"])
        return {"type": "answer", "sdp": await self.media.answer(offer)}

    async def connect(self) -> None:
        await self.sio.connect(
            self.live.url,
            namespaces=[NAMESPACE],
            auth={"token": self.token},
            transports=["websocket"],
            socketio_path="socket.io",
            wait_timeout=10,
        )

    async def call(self, event: str, data: Any = None) -> Any:
        if data is None:
            return await self.sio.call(event, namespace=NAMESPACE, timeout=20)
        return await self.sio.call(event, data, namespace=NAMESPACE, timeout=20)

    async def join(self, consultation_id: uuid.UUID) -> dict[str, Any]:
        ack = await self.call("join", {"consultation_id": str(consultation_id)})
        assert ack["ok"], ack
        self.participant_id = ack["participant_id"]
        return dict(ack)

    def packets_from(self, publisher_id: str | uuid.UUID, source: TrackSource) -> int:
        if self.media is None:
            return 0
        inbound = self.media.received(str(publisher_id), source)
        return 0 if inbound is None else inbound.packets

    def presence(self, kind: str, participant_id: str | uuid.UUID) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events["presence"]
            if e["type"] == kind and e["participant"]["participant_id"] == str(participant_id)
        ]

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        for client in [*self.old_media, *([self.media] if self.media else [])]:
            await client.close()


async def peer_factory(clips: tuple[Clip, Clip]) -> AsyncIterator[Callable[..., Peer]]:
    """Yields `make(live, token, name, webrtc=True) -> Peer`; closes every peer afterwards."""
    made: list[Peer] = []

    def make(live: Live, token: str, name: str = "peer", *, webrtc: bool = True) -> Peer:
        peer = Peer(live, token, clips, name)
        if not webrtc:
            peer.answer_with = _cannot_do_webrtc
        made.append(peer)
        return peer

    yield make
    for peer in made:
        await peer.close()


@pytest.fixture
async def peers(clips: tuple[Clip, Clip]) -> AsyncIterator[Callable[..., Peer]]:
    async for make in peer_factory(clips):
        yield make


async def _cannot_do_webrtc(offer: dict[str, Any]) -> dict[str, Any]:
    """Tests whose subject is not media decline offers, as a client without WebRTC would."""
    return {"error": {"code": "no_webrtc", "message": "sem WebRTC neste teste"}}


async def eventually(condition: Callable[[], object], within: float = 30.0) -> None:
    """Poll until `condition()` is truthy; never sleep and hope."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.05)
