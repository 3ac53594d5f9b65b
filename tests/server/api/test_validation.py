"""Validation errors reach people in Portuguese, whatever pydantic rule refused the value."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from server.api.validation import validation_details


class _Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: Annotated[int, Field(ge=1, le=15)]
    name: Annotated[str, Field(max_length=5)]
    cpf: str

    @field_validator("cpf")
    @classmethod
    def _cpf(cls, value: str) -> str:
        raise ValueError("CPF inválido")


def _details(data: object) -> dict[str, str]:
    try:
        _Example.model_validate(data)
    except ValidationError as exc:
        return {d["field"]: d["message"] for d in validation_details(exc)}
    raise AssertionError("the example model accepted invalid data")


def test_numeric_bounds_and_lengths_are_explained_with_their_limits() -> None:
    details = _details({"days": 99, "name": "longo demais", "cpf": "1"})
    assert details["days"] == "deve ser menor ou igual a 15"
    assert details["name"] == "texto longo demais (máximo 5 caracteres)"


def test_a_validator_message_is_shown_without_pydantics_english_prefix() -> None:
    assert _details({"days": 2, "name": "ok", "cpf": "1"})["cpf"] == "CPF inválido"


def test_wrong_types_missing_and_unknown_fields_are_in_portuguese() -> None:
    details = _details({"days": "muitos", "extra": 1})
    assert details == {
        "days": "deve ser um número inteiro",
        "name": "campo obrigatório",
        "cpf": "campo obrigatório",
        "extra": "campo não permitido",
    }
