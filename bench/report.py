"""Each benchmark owns one section of BENCHMARKS.md, between its own begin/end markers."""

from __future__ import annotations

from pathlib import Path


def current_section(path: Path, begin: str, end: str) -> str | None:
    """The text between `begin` and `end` in `path` (markers excluded), if both are there."""
    text = path.read_text() if path.exists() else ""
    if begin not in text or end not in text:
        return None
    return text.split(begin, 1)[1].split(end, 1)[0]


def replace_section(path: Path, begin: str, end: str, section: str) -> None:
    """Put `section` (which starts with `begin` and ends with `end`) where the old one was,
    or append it; nothing else in the file changes (other benchmarks own the rest)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
