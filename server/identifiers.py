"""Brazilian identifiers: CPF, CNS, CNES, CBO, UFs and council registrations.

Check digits come from validate-docbr; this module normalises input (drops the mask),
adds the formats the library does not cover (CNES, CBO, councils) and generates *valid*
fake numbers for tests and demo data, deterministically from a seed.
"""

from __future__ import annotations

import random
import re

from validate_docbr import CNS, CPF

from server.db.models import Council

UFS = (
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA", "PB",
    "PE", "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
)  # fmt: skip
UF_SET = frozenset(UFS)

# Councils organised by numbered region rather than by UF: the registration carries the
# region number (CRP-04, CREFITO-4, CRN-9…). Numbers as the councils assign them today.
COUNCIL_REGIONS: dict[Council, int] = {
    Council.CRP: 24,
    Council.CREFITO: 19,
    Council.CRN: 11,
    Council.CRFA: 9,
    Council.CRESS: 27,
    Council.CREF: 20,
    Council.CRBM: 6,
}

_MASK = re.compile(r"[\s.\-/]")
_cpf = CPF()
_cns = CNS()


def digits_only(value: str) -> str:
    return _MASK.sub("", value.strip())


def normalize_cpf(value: str) -> str | None:
    """The 11 digits of a valid CPF (mask allowed), or None when invalid."""
    raw = digits_only(value)
    if len(raw) != 11 or not raw.isdigit():
        return None
    return raw if _cpf.validate(raw) else None


def normalize_cns(value: str) -> str | None:
    """The 15 digits of a valid CNS (mask allowed), or None when invalid.

    Definitive cards start with 1 or 2 (derived from a PIS number), provisional ones with
    7, 8 or 9 (weighted sum ≡ 0 mod 11); any other first digit is invalid.
    """
    raw = digits_only(value)
    if len(raw) != 15 or not raw.isdigit():
        return None
    return raw if _cns.validate(raw) else None


def is_cnes(value: str) -> bool:
    return len(value) == 7 and value.isdigit()


def is_cbo(value: str) -> bool:
    """CBO occupation codes are 6 digits (the dash in "2251-42" is presentation only)."""
    return len(value) == 6 and value.isdigit()


def is_uf(value: str) -> bool:
    return value in UF_SET


def normalize_council_region(council: Council, value: str) -> str | None:
    """The UF (``MG``) or zero-padded region (``04``) a registration belongs to, or None.

    Councils organised by region accept a region number; every council accepts a UF, since
    regional councils are also referred to by their seat's UF in practice.
    """
    value = value.strip().upper()
    if is_uf(value):
        return value
    limit = COUNCIL_REGIONS.get(council)
    if limit is not None and value.isdigit() and 1 <= int(value) <= limit:
        return f"{int(value):02d}"
    return None


def is_council_number(value: str) -> bool:
    """Registration numbers: digits, optionally with a letter suffix (e.g. ``12345-P``)."""
    return re.fullmatch(r"[0-9]{1,10}(-?[A-Z]{1,2})?", value) is not None


# -- generators of valid fake numbers (tests, demo) ----------------------------------------


def _cpf_check(digits: list[int]) -> int:
    weight = len(digits) + 1
    total = sum(d * (weight - i) for i, d in enumerate(digits))
    rest = total % 11
    return 0 if rest < 2 else 11 - rest


def fake_cpf(rng: random.Random | None = None) -> str:
    """A CPF with valid check digits (never all-equal digits)."""
    rng = rng or random.Random()
    while True:
        base = [rng.randrange(10) for _ in range(9)]
        if len(set(base)) > 1:
            break
    base.append(_cpf_check(base))
    base.append(_cpf_check(base))
    return "".join(map(str, base))


def fake_cns(rng: random.Random | None = None, *, provisional: bool = True) -> str:
    """A CNS with a valid check: provisional (7/8/9) or definitive (1/2)."""
    rng = rng or random.Random()
    if provisional:
        # Choose 14 digits, then a last digit making Σ dᵢ·(15..1) ≡ 0 mod 11; retry if the
        # needed last digit would be 10.
        while True:
            head = [rng.choice((7, 8, 9))] + [rng.randrange(10) for _ in range(13)]
            total = sum(d * (15 - i) for i, d in enumerate(head))
            last = (11 - total % 11) % 11
            if last < 10:
                return "".join(map(str, [*head, last]))
    pis = [rng.choice((1, 2))] + [rng.randrange(10) for _ in range(10)]
    total = sum(d * (15 - i) for i, d in enumerate(pis))
    dv = 11 - total % 11
    if dv == 11:
        dv = 0
    if dv == 10:
        total += 2
        dv = 11 - total % 11
        return "".join(map(str, pis)) + f"001{dv}"
    return "".join(map(str, pis)) + f"000{dv}"


def fake_cnes(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    return f"{rng.randrange(1, 10**7):07d}"
