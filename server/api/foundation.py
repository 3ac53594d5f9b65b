"""Registers the foundation API (auth, registry, consultations, invites, audit, OpenAPI).

One call from the composition root, so adding a module here never touches ``server/app.py``.
"""

from __future__ import annotations

from aiohttp import web

from server.api import (
    audit,
    auth,
    consultations,
    invites,
    nucleos,
    openapi,
    patients,
    pontos,
    professionals,
)
from server.auth.login import LOGIN_LIMITER, RateLimiter
from server.keys import SETTINGS

MODULES = (auth, nucleos, pontos, professionals, patients, consultations, invites, audit, openapi)


def setup_foundation_api(app: web.Application) -> None:
    app[LOGIN_LIMITER] = RateLimiter(app[SETTINGS].login_attempts_per_minute)
    for module in MODULES:
        app.add_routes(module.routes)
