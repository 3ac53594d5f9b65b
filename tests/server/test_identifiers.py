"""CPF, CNS, CNES, CBO and council registrations (validate-docbr behaviour pinned here)."""

from __future__ import annotations

import random

import pytest

from server.db.models import Council
from server.identifiers import (
    fake_cnes,
    fake_cns,
    fake_cpf,
    is_cbo,
    is_cnes,
    normalize_cns,
    normalize_council_region,
    normalize_cpf,
)


def _cns_weighted_sum(cns: str) -> int:
    return sum(int(d) * (15 - i) for i, d in enumerate(cns))


def test_cpf_accepts_the_mask_and_rejects_bad_check_digits_and_repeated_digits() -> None:
    assert normalize_cpf("529.982.247-25") == "52998224725"
    assert normalize_cpf("52998224726") is None
    assert all(normalize_cpf(str(d) * 11) is None for d in range(10))
    assert normalize_cpf("5299822472") is None
    assert normalize_cpf("abc.def.ghi-jk") is None


def test_cns_follows_the_two_rules_by_first_digit() -> None:
    rng = random.Random(3)
    for _ in range(300):
        provisional = fake_cns(rng)
        assert provisional[0] in "789" and _cns_weighted_sum(provisional) % 11 == 0
        assert normalize_cns(provisional) == provisional
        definitive = fake_cns(rng, provisional=False)
        assert definitive[0] in "12" and normalize_cns(definitive) == definitive
    # Same weighted sum rule but a first digit of 3–6: not a CNS.
    assert normalize_cns("300000000000003") is None
    assert normalize_cns("700000000000005") == "700000000000005"
    assert normalize_cns("700000000000006") is None
    assert normalize_cns("700 0000 0000 0005") == "700000000000005"


def test_generated_cpfs_are_valid_and_deterministic_per_seed() -> None:
    assert [fake_cpf(random.Random(1)) for _ in range(2)] == [fake_cpf(random.Random(1))] * 2
    rng = random.Random(9)
    assert all(normalize_cpf(fake_cpf(rng)) for _ in range(500))


def test_cnes_is_seven_digits_and_cbo_six() -> None:
    assert is_cnes(fake_cnes(random.Random(1)))
    assert not is_cnes("123456") and not is_cnes("12345678") and not is_cnes("12345a7")
    assert is_cbo("225142") and not is_cbo("2251-4") and not is_cbo("22514")


@pytest.mark.parametrize(
    ("council", "given", "expected"),
    [
        (Council.CRM, "mg", "MG"),
        (Council.CRM, "04", None),  # CRM is organised by UF, not by region
        (Council.CRP, "4", "04"),
        (Council.CRP, "04", "04"),
        (Council.CRP, "25", None),
        (Council.CREFITO, "19", "19"),
        (Council.COREN, "XX", None),
    ],
)
def test_council_takes_a_uf_or_for_regional_councils_a_region(
    council: Council, given: str, expected: str | None
) -> None:
    assert normalize_council_region(council, given) == expected
