"""Refusals carry a stable code and a pt-BR message; media internals never reach the client."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from media import InvalidCandidateError, InvalidSdpError, MediaError
from signaling.errors import SignalingError, from_media, from_validation
from signaling.messages import Mute


def test_an_error_ack_has_the_documented_shape() -> None:
    assert SignalingError("not_joined").ack() == {
        "ok": False,
        "error": {"code": "not_joined", "message": "Entre na consulta antes de fazer isso."},
    }


def test_a_media_error_keeps_its_code_but_not_its_english_message() -> None:
    error = from_media(InvalidSdpError("the answer of 'x' was refused: KeyError('a=mid')"))
    assert error.code == "invalid_sdp"
    assert "KeyError" not in error.message and error.message.startswith("A conexão")
    assert from_media(InvalidCandidateError("no m-line")).message == "Candidato ICE inválido."


def test_an_unknown_media_error_becomes_the_generic_media_error() -> None:
    class Odd(MediaError):
        code = "something_new"

    assert from_media(Odd("x")).code == "media_error"


def test_validation_details_name_each_field_in_portuguese() -> None:
    with pytest.raises(ValidationError) as invalid:
        Mute.model_validate({"source": "camera", "muted": "sim", "extra": 1})
    error = from_validation(invalid.value)
    assert error.code == "invalid_payload" and error.message == "Dados inválidos."
    assert error.details == [
        {"field": "muted", "code": "bool_type", "message": "deve ser verdadeiro ou falso"},
        {"field": "extra", "code": "extra_forbidden", "message": "campo não permitido"},
    ]
