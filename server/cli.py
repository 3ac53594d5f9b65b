"""The ``telessaude`` command.

Subcommands are entries of ``COMMANDS``; a package adds its own with the ``command``
decorator in its module and one import line in ``_load_plugins`` below.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from server.settings import InsecureSettingsError, Settings


@dataclass(frozen=True)
class Command:
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Settings], int]


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, configure: Callable[[argparse.ArgumentParser], None] | None = None
) -> Callable[[Callable[[argparse.Namespace, Settings], int]], Callable[..., int]]:
    """Register ``run(args, settings) -> exit status`` as ``telessaude <name>``."""

    def register(run: Callable[[argparse.Namespace, Settings], int]) -> Callable[..., int]:
        COMMANDS[name] = Command(help, configure or (lambda parser: None), run)
        return run

    return register


# -- serve ---------------------------------------------------------------------------------


def _serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default: settings.host)")
    parser.add_argument("--port", type=int, help="port (default: settings.port)")
    parser.add_argument(
        "--self-signed",
        action="store_true",
        help="serve HTTPS with a generated development certificate (phones on the LAN)",
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        default=os.environ.get("TELESSAUDE_MIGRATE_ON_START", "").lower() in {"1", "true", "yes"},
        help="apply Alembic migrations before listening (also TELESSAUDE_MIGRATE_ON_START=1)",
    )
    parser.add_argument("--log-level", default=os.environ.get("TELESSAUDE_LOG_LEVEL", "INFO"))


@command("serve", "run the HTTP/Socket.IO server", _serve_args)
def serve(args: argparse.Namespace, settings: Settings) -> int:

    from server.tls import ensure_self_signed, lan_address

    updates: dict[str, object] = {}
    if args.host:
        updates["host"] = args.host
    if args.port:
        updates["port"] = args.port
    settings = settings.model_copy(update=updates)
    if args.self_signed and settings.tls_cert is None:
        hosts = [settings.host] + ([lan] if (lan := lan_address()) else [])
        cert, key = ensure_self_signed(settings.data_dir / "tls", hosts)
        settings = settings.model_copy(update={"tls_cert": cert, "tls_key": key})
    settings.resolve_jwt_secret()  # refuse to start now, not at the first login
    from server.serve import serve as run_server  # imports the whole app: only when serving

    print(f"Telessaúde em {settings.effective_public_url}", flush=True)
    # JSON logs, optional migrations and the graceful SIGTERM drain live in server.serve.
    run_server(settings, migrate=args.migrate, log_level=args.log_level)
    return 0


# -- database ------------------------------------------------------------------------------


@command("migrate", "apply database migrations (Alembic) up to head")
def migrate(args: argparse.Namespace, settings: Settings) -> int:
    from server.db.migrate import upgrade

    upgrade(settings.effective_database_url)
    print("Banco de dados atualizado.")
    return 0


@command("seed-demo", "create the demo Núcleo, Pontos, professionals and patients (idempotent)")
def seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    from server.db.engine import make_engine, make_sessions
    from server.demo import DEMO_PASSWORD, seed_demo

    async def run() -> list[tuple[str, str, str]]:
        engine = make_engine(settings.effective_database_url)
        try:
            async with make_sessions(engine).begin() as db:
                return [(d.cpf, d.name, d.what) for d in await seed_demo(db)]
        finally:
            await engine.dispose()

    logins = asyncio.run(run())
    print(f"Dados de demonstração prontos. Logins (senha: {DEMO_PASSWORD}, só em desenvolvimento):")
    for cpf, name, what in logins:
        print(f"  CPF {cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}  {name} — {what}")
    return 0


@command("check-settings", "validate the settings and show them (secrets hidden)")
def check_settings(args: argparse.Namespace, settings: Settings) -> int:
    try:
        settings.resolve_jwt_secret()
    except InsecureSettingsError as exc:
        print(f"Configuração insegura: {exc}", file=sys.stderr)
        return 1
    for name, value in settings.model_dump().items():
        secret = any(word in name for word in ("secret", "password"))
        shown = "***" if secret and value else value
        print(f"TELESSAUDE_{name.upper()}={shown}")
    return 0


def _load_plugins() -> None:
    """Other packages' subcommands: one import line each (their module calls ``command``)."""
    from server.records import verify

    COMMANDS["verify-chain"] = Command(
        "verify the prontuário hash chains; names the first broken link",
        verify.add_arguments,
        verify.run,
    )


def main(argv: list[str] | None = None) -> int:
    _load_plugins()
    parser = argparse.ArgumentParser(prog="telessaude", description="Servidor de telessaúde do SUS")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, spec in COMMANDS.items():
        spec.configure(sub.add_parser(name, help=spec.help))
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"Configuração inválida:\n{exc}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command].run(args, settings)
    except InsecureSettingsError as exc:
        print(f"Recusando iniciar: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
