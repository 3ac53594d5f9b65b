"""File types come from the first bytes, never from the name."""

from __future__ import annotations

import pytest

from server.attachments.sniff import sniff


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00", "image/jpeg"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0", "application/pdf"),
    ],
)
def test_accepted_formats_are_recognised_by_their_magic_bytes(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00",  # Windows executable
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00",  # Linux executable
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00",  # ZIP / docx
        b"<html><script>alert(1)",  # HTML
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # RIFF but audio
        b"GIF89a\x01\x00\x01\x00\x80\x00",  # GIF is not on the list
    ],
)
def test_everything_else_is_refused(head: bytes) -> None:
    assert sniff(head) is None
