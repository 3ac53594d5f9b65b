"""Scrubbing identifiers out of free text before it becomes a public SOF.

The specialist writes the SOF and is responsible for it; this is the safety net that removes
what looks like an identifier even when written by hand: CPF (11 digits, with or without
punctuation) and CNS (15 digits, possibly grouped 3-4-4-4), plus e-mail addresses and phone
numbers. It replaces them with a visible marker so a reader knows something was removed.
"""

from __future__ import annotations

import re

REDACTED = "[removido]"

_PATTERNS = [
    # CNS: 15 digits, optionally grouped "898 0010 0000 0004" or with dots/dashes.
    re.compile(r"(?<!\d)\d{3}[ .-]?\d{4}[ .-]?\d{4}[ .-]?\d{4}(?!\d)"),
    # CPF: 11 digits, "123.456.789-09", "123456789-09", "12345678909".
    re.compile(r"(?<!\d)\d{3}[ .]?\d{3}[ .]?\d{3}[ -]?\d{2}(?!\d)"),
    # E-mail addresses.
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    # Brazilian phone numbers: (31) 98765-4321, 31 3333-4444, +55 31 98765 4321.
    re.compile(r"(?:\+?55[ ]?)?\(?\d{2}\)?[ ]?9?\d{4}[ -]?\d{4}(?!\d)"),
]


def scrub(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def has_identifiers(text: str) -> bool:
    return scrub(text) != text
