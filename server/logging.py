"""Structured logs: one JSON object per line, and never a clinical field in them.

    configure_logging(level="INFO")     # JSON to stderr, with the clinical-data filter

Every record carries time, level, logger and message; ids passed in ``extra=`` (room,
participant, consultation, node…) become fields. `ClinicalDataFilter` refuses records that try to
carry known clinical fields (a note's text, a diagnosis code, a chat text…) in ``extra``: the
record is kept, those fields are replaced, and the offender is named so it gets fixed.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

CLINICAL_FIELDS = frozenset(
    {
        "text",
        "chat_text",
        "message_text",
        "note",
        "notes",
        "soap",
        "subjective",
        "objective",
        "assessment",
        "plan",
        "diagnosis",
        "cid10",
        "cid",
        "ciap2",
        "prescription",
        "medications",
        "content",
        "body",
        "transcript",
        "anamnesis",
        "symptoms",
        "cpf",
        "cns",
        "birth_date",
        "patient_name",
    }
)
"Names a log record must not carry: clinical content and direct patient identifiers."

REDACTED = "[removido: dado clínico]"

# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class ClinicalDataFilter(logging.Filter):
    """Replaces clinical fields in a record's extras, and says which ones were refused."""

    def filter(self, record: logging.LogRecord) -> bool:
        refused = sorted(k for k in _extras(record) if k.lower() in CLINICAL_FIELDS)
        for key in refused:
            setattr(record, key, REDACTED)
        if refused:
            record.refused_fields = refused
        # Positional args could smuggle content through the message; dicts are the usual way.
        if isinstance(record.args, dict):
            record.args = {
                k: (REDACTED if str(k).lower() in CLINICAL_FIELDS else v)
                for k, v in record.args.items()
            }
        return True


class JsonFormatter(logging.Formatter):
    """One line of JSON per record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            line[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str = "INFO", stream: Any = None) -> logging.Handler:
    """Route the root logger to JSON lines on ``stream`` (stderr); returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ClinicalDataFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log would print request paths, which can carry ids but also queries.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler
