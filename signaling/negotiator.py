"""The media layer's Negotiator over Socket.IO: a server `offer` event acked with the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import socketio
from pydantic import ValidationError

from media import InvalidSdpError, NegotiationError, Offer, ParticipantId, RoomId

from .messages import Answer

if TYPE_CHECKING:
    from .namespace import ConsultationNamespace


class SocketNegotiator:
    """Delivers each offer to the participant's current socket and returns its answer SDP."""

    def __init__(self, namespace: ConsultationNamespace) -> None:
        self._namespace = namespace

    async def exchange(self, room_id: RoomId, participant_id: ParticipantId, offer: Offer) -> str:
        namespace = self._namespace
        seat = namespace.seat(room_id, participant_id)
        if seat is None or seat.sid is None:
            raise NegotiationError(f"participant {participant_id!r} has no connected socket")
        payload = offer.as_dict()
        payload["ice_servers"] = seat.ice_servers
        payload["new_peer_connection"] = seat.fresh_connection
        seat.fresh_connection = False
        try:
            reply = await namespace.call(
                "offer", payload, to=seat.sid, timeout=namespace.config.negotiation_timeout_s
            )
        except socketio.exceptions.TimeoutError as exc:
            raise NegotiationError(f"participant {participant_id!r} did not answer") from exc
        except socketio.exceptions.SocketIOError as exc:
            raise NegotiationError(f"the offer to {participant_id!r} failed: {exc}") from exc
        if not isinstance(reply, dict):
            raise InvalidSdpError("the answer ack is not an object")
        try:
            answer = Answer.model_validate(reply)
        except ValidationError as exc:
            raise InvalidSdpError(
                f"the answer ack is malformed ({exc.error_count()} errors)"
            ) from exc
        if answer.error is not None:
            raise NegotiationError(f"the client could not apply the offer: {answer.error.code}")
        if not answer.sdp:
            raise InvalidSdpError("the answer ack carries no SDP")
        return answer.sdp
