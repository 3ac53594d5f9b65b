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
from server.auth.rate_limit import LOGIN_LIMITER, login_limiter
from server.keys import SETTINGS

MODULES = (auth, nucleos, pontos, professionals, patients, consultations, invites, audit, openapi)


def setup_foundation_api(app: web.Application) -> None:
    settings = app[SETTINGS]
    limiter = login_limiter(settings.login_attempts_per_minute, settings.redis_url)
    app[LOGIN_LIMITER] = limiter

    async def close_limiter(app: web.Application) -> None:
        await limiter.close()

    app.on_cleanup.append(close_limiter)
    for module in MODULES:
        app.add_routes(module.routes)
