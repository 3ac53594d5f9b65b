"""Run one server process: JSON logs, optional migrations, graceful SIGTERM.

    python -m server.serve [--migrate] [--host H] [--port P] [--log-level INFO]

`telessaude serve` (server/cli.py) can call `serve()`. On SIGTERM aiohttp stops listening,
then server.cluster drains (clients get `server_draining` and rejoin elsewhere), then rooms
close with reason server_shutdown and the process exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import ssl

from aiohttp import web

from server.app import create_app
from server.db.migrate import upgrade
from server.gc_policy import freeze_after_startup
from server.logging import configure_logging
from server.settings import Settings

logger = logging.getLogger(__name__)


def serve(settings: Settings, *, migrate: bool = False, log_level: str = "INFO") -> None:
    configure_logging(log_level)
    if migrate:
        # Before listening: a process never serves on a schema older than its code.
        upgrade(settings.effective_database_url)
        logger.info("database migrated to head")
    context = None
    if settings.tls_cert and settings.tls_key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    app = create_app(settings)
    freeze_after_startup(app)  # full GC pauses were the chat's p99 (server/gc_policy.py)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context=context,
        access_log=None,
        print=None,
        # Drain (server.cluster) bounds itself; this only caps idle HTTP connections after it.
        shutdown_timeout=5,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server.serve")
    parser.add_argument("--migrate", action="store_true", default=_env_flag("MIGRATE_ON_START"))
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--log-level", default=os.environ.get("TELESSAUDE_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    serve(Settings(**overrides), migrate=args.migrate, log_level=args.log_level)


def _env_flag(name: str) -> bool:
    return os.environ.get(f"TELESSAUDE_{name}", "").lower() in {"1", "true", "yes"}


if __name__ == "__main__":
    main()
