"""The one exception of the records package, carrying what the HTTP edge shows (pt-BR)."""

from __future__ import annotations

from typing import Any


class RecordError(Exception):
    """A request the prontuário refuses: an HTTP status, a stable code and a pt-BR message."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
