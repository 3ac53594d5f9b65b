"""Structured logs: JSON lines, ids as fields, clinical fields refused."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from server.logging import REDACTED, configure_logging


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("INFO", stream)
    yield logging.getLogger("server.test"), stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_event_is_one_json_line_with_logger_level_and_ids(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = lines
    logger.info("participant joined", extra={"room": "r-1", "participant": "p-1"})
    (line,) = records(stream)
    assert line["logger"] == "server.test"
    assert line["level"] == "INFO"
    assert line["message"] == "participant joined"
    assert line["room"] == "r-1" and line["participant"] == "p-1"
    assert "time" in line


def test_clinical_fields_never_reach_the_log(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = lines
    logger.warning(
        "note saved",
        extra={"consultation": "c-1", "subjective": "dor torácica há 3 dias", "CID10": "I20"},
    )
    output = stream.getvalue()
    assert "dor torácica" not in output and "I20" not in output
    (line,) = records(stream)
    assert line["subjective"] == REDACTED
    assert line["refused_fields"] == "['CID10', 'subjective']"
    assert line["consultation"] == "c-1"


def test_clinical_fields_in_mapping_arguments_are_removed(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = lines
    logger.info("chat %(id)s: %(text)s", {"id": 7, "text": "paciente com febre"})
    assert "febre" not in stream.getvalue()
    assert records(stream)[0]["message"] == f"chat 7: {REDACTED}"


def test_exceptions_are_kept_on_the_same_line(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = lines
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("job failed")
    (line,) = records(stream)
    assert "RuntimeError: boom" in str(line["exception"])
