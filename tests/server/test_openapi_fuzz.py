"""Schemathesis fuzzes every documented operation of the real app over loopback HTTP.

Checks: no 5xx, and every response (success or error) matches the documented schema. Bounded
and deterministic (derandomized hypothesis, a few examples per operation). The server runs
on the test's event loop; schemathesis' blocking client runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import hypothesis
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from server.api.openapi import openapi_document
from server.db.models import AccountRole
from server.keys import DB_SESSIONS
from tests.support.factories import (
    auth_header,
    make_consultation,
    make_nucleo,
    make_patient,
    make_professional,
)

MAX_EXAMPLES = 25
CHECKS = (not_a_server_error, response_schema_conformance, content_type_conformance)


def _fuzz(
    document: dict[str, Any], base_url: str, headers: dict[str, str], statuses: Counter[int]
) -> list[str]:
    schemathesis.experimental.OPEN_API_3_1.enable()
    schema = schemathesis.from_dict(document, base_url=base_url)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # Err raises: a broken schema

        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers=headers, timeout=10)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.verbose_name}: {exc}")
    return failures


async def test_no_operation_answers_a_5xx_or_breaks_its_schema(
    sqlite_url: str, tmp_path: Any, aiohttp_client: Any
) -> None:
    from server.app import create_app
    from tests.conftest import make_settings

    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(make_settings(sqlite_url, tmp_path))
    )
    async with client.app[DB_SESSIONS].begin() as db:
        nucleo = await make_nucleo(db)
        gestor = await make_professional(db, role=AccountRole.GESTOR, nucleo=nucleo)
        medico = await make_professional(db, nucleo=nucleo)
        patient = await make_patient(db)
        await make_consultation(db, medico, patient=patient, nucleo=nucleo)
        await make_consultation(db, gestor, patient=patient, nucleo=nucleo, creator_role=None)
    document = openapi_document(title="fuzz", version="0")
    base_url = str(client.make_url("")).rstrip("/")
    statuses: Counter[int] = Counter()
    failures = await asyncio.to_thread(
        _fuzz, document, base_url, auth_header(client, gestor), statuses
    )
    assert not failures, "\n\n".join(failures)
    # The run really exercised the server, reaching handlers and not only validation.
    assert sum(statuses.values()) >= 10 * len(document["paths"]), statuses
    assert {200, 201, 422} <= set(statuses), statuses
