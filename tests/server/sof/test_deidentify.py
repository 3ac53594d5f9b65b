"""Identifiers written by hand are scrubbed from SOF text."""

from __future__ import annotations

import random

import pytest

from server.identifiers import fake_cns, fake_cpf
from server.sof.deidentify import REDACTED, has_identifiers, scrub

rng = random.Random(7)
CPF = fake_cpf(rng)
CNS = fake_cns(rng)


@pytest.mark.parametrize(
    "written",
    [
        CPF,
        f"{CPF[:3]}.{CPF[3:6]}.{CPF[6:9]}-{CPF[9:]}",
        CNS,
        f"{CNS[:3]} {CNS[3:7]} {CNS[7:11]} {CNS[11:]}",
        "maria.silva@example.org",
        "(31) 98765-4321",
    ],
)
def test_identifier_looking_text_is_replaced_by_a_visible_marker(written: str) -> None:
    text = f"Paciente {written} com dispneia."
    assert scrub(text) == f"Paciente {REDACTED} com dispneia."
    assert has_identifiers(text)


def test_clinical_numbers_are_kept() -> None:
    text = "PA 160x100 mmHg, creatinina 1,1 mg/dL, HbA1c 8,2%, 54 anos, K86, dose 50 mg 2x/dia."
    assert scrub(text) == text
