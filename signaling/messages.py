"""Payloads of the /consultation namespace: what clients may send (pydantic, extra="forbid")."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

# The SFU refuses larger ones too; refusing here keeps them out of the media layer entirely.
MAX_SDP_BYTES = 128 * 1024
MAX_CANDIDATE_BYTES = 1024


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(Payload):
    """Events that carry nothing: leave, end, screen_share_start, screen_share_stop."""


class Join(Payload):
    consultation_id: uuid.UUID


class IceCandidate(Payload):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    candidate: Annotated[StrictStr, Field(max_length=MAX_CANDIDATE_BYTES)]
    "The `candidate:` line; empty means end-of-candidates."
    sdp_mid: Annotated[StrictStr | None, Field(alias="sdpMid", max_length=32)] = None
    sdp_mline_index: Annotated[StrictInt | None, Field(alias="sdpMLineIndex", ge=0, le=255)] = None
    username_fragment: Annotated[
        StrictStr | None, Field(alias="usernameFragment", max_length=256)
    ] = None
    "Sent by browsers' RTCIceCandidate.toJSON(); accepted and ignored (one ICE session)."


class Mute(Payload):
    source: Literal["microphone", "camera"]
    muted: StrictBool


class ChatSend(Payload):
    client_msg_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    text: Annotated[StrictStr, Field(min_length=1, max_length=4000)]


class ChatHistory(Payload):
    after_id: Annotated[StrictInt | None, Field(ge=0)] = None
    limit: Annotated[StrictInt, Field(ge=1, le=500)] = 200


class ChatRead(Payload):
    last_id: Annotated[StrictInt, Field(ge=0)]


class Admit(Payload):
    participant_id: uuid.UUID


class _AnswerError(Payload):
    code: Annotated[StrictStr, Field(max_length=64)] = "client_error"
    message: Annotated[StrictStr, Field(max_length=500)] = ""


class Answer(Payload):
    """The client's ack to a server `offer`: its answer SDP, or why it could not apply it."""

    type: Literal["answer"] = "answer"
    sdp: Annotated[StrictStr | None, Field(max_length=MAX_SDP_BYTES)] = None
    error: _AnswerError | None = None


def ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}
