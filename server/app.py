"""Composition root: the only module that knows every package and wires them together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from server.api import attachments as attachments_api
from server.api import cases as cases_api
from server.api import documents as documents_api
from server.api import exports as exports_api
from server.api import records as records_api
from server.api import reports as reports_api
from server.api import sof as sof_api
from server.api.errors import error_middleware
from server.api.foundation import setup_foundation_api
from server.auth.tokens import TokenService
from server.cluster.setup import setup_cluster
from server.db.engine import make_engine, make_sessions
from server.keys import DB_ENGINE, DB_SESSIONS, SETTINGS, TOKENS
from server.metrics import setup_metrics
from server.realtime import setup_realtime
from server.settings import Settings

logger = logging.getLogger(__name__)

WEB_DIST = Path(__file__).resolve().parent.parent / "clients" / "web" / "dist"


async def database(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one engine per process, disposed on shutdown."""
    engine = make_engine(app[SETTINGS].effective_database_url)
    app[DB_ENGINE] = engine
    app[DB_SESSIONS] = make_sessions(engine)
    yield
    await engine.dispose()


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _add_web_client(app: web.Application) -> None:
    """Serve the built browser app; every non-API path falls back to index.html (SPA routing)."""
    index = WEB_DIST / "index.html"

    async def spa(request: web.Request) -> web.StreamResponse:
        if not index.exists():
            return web.Response(
                status=503,
                text="O cliente web não foi compilado. Rode `make run` ou `make web`.",
                content_type="text/plain",
            )
        candidate = (WEB_DIST / request.match_info.get("tail", "")).resolve()
        if candidate.is_file() and WEB_DIST.resolve() in candidate.parents:
            return web.FileResponse(candidate)
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.router.add_get("/{tail:(?!api/|socket.io/).*}", spa)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[TOKENS] = TokenService(
        settings.resolve_jwt_secret(), settings.access_token_ttl_s, settings.refresh_token_ttl_s
    )
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.append(database)
    setup_cluster(app)  # before setup_realtime: Redis manager, join placement, draining
    setup_metrics(app)  # GET /metrics for Prometheus
    setup_realtime(app)  # Socket.IO + SFU; after the database ctx, which it uses
    # Feature route tables are registered here, one line each.
    setup_foundation_api(app)  # auth, registry, consultations, invites, audit, OpenAPI
    app.add_routes(records_api.routes)
    app.add_routes(documents_api.routes)
    app.add_routes(exports_api.routes)
    cases_api.setup_cases(app)  # async teleconsultoria: cases, SLA sweep, /cases namespace
    app.add_routes(attachments_api.routes)
    app.add_routes(sof_api.routes)
    app.add_routes(reports_api.routes)
    app.cleanup_ctx.append(documents_api.signing_ctx)
    _add_web_client(app)
    return app
