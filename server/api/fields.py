"""Pydantic field types for Brazilian identifiers, with pt-BR error messages.

``validation_details`` reads the ``pt`` entry of a PydanticCustomError's context, so each
failure reaches the client as a stable code plus a sentence a person understands.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field
from pydantic_core import PydanticCustomError

from server.identifiers import is_cbo, is_cnes, is_uf, normalize_cns, normalize_cpf

# Length bounds are loose on purpose: a short value gets the specific message below, not a
# generic "texto curto demais".


def _error(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message, {"pt": message})


def _cpf(value: str) -> str:
    normalized = normalize_cpf(value)
    if normalized is None:
        raise _error("cpf_invalid", "CPF inválido (verifique os dígitos)")
    return normalized


def _cns(value: str) -> str:
    normalized = normalize_cns(value)
    if normalized is None:
        raise _error("cns_invalid", "CNS inválido (verifique os dígitos)")
    return normalized


def _cnes(value: str) -> str:
    if not is_cnes(value):
        raise _error("cnes_invalid", "CNES deve ter 7 dígitos")
    return value


def _cbo(value: str) -> str:
    value = value.replace("-", "")
    if not is_cbo(value):
        raise _error("cbo_invalid", "CBO deve ter 6 dígitos")
    return value


def _uf(value: str) -> str:
    value = value.upper()
    if not is_uf(value):
        raise _error("uf_invalid", "UF inválida")
    return value


Cpf = Annotated[str, Field(min_length=1, max_length=14), AfterValidator(_cpf)]
Cns = Annotated[str, Field(min_length=1, max_length=18), AfterValidator(_cns)]
Cnes = Annotated[str, Field(min_length=1, max_length=7), AfterValidator(_cnes)]
Cbo = Annotated[str, Field(min_length=1, max_length=7), AfterValidator(_cbo)]
Uf = Annotated[str, Field(min_length=1, max_length=2), AfterValidator(_uf)]
Name = Annotated[str, Field(min_length=2, max_length=200)]
ShortText = Annotated[str, Field(min_length=1, max_length=120)]
When = AwareDatetime
