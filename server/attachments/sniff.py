"""File type by content: the first bytes decide, never the name or the declared type.

Accepted: PNG, JPEG, WebP images and PDF, the formats a browser shows inline without plugins
and that clinical photos, exams and reports come in. Anything else (an executable renamed
``.pdf``, an HTML page, a ZIP) is refused.
"""

from __future__ import annotations

SNIFF_BYTES = 16

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "application/pdf": "pdf",
}


def sniff(head: bytes) -> str | None:
    """The MIME type of a file starting with ``head`` (at least 12 bytes), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None
