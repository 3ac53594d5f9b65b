"""Typed application keys: the composition root's shared state."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.auth.tokens import TokenService
from server.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DB_ENGINE = web.AppKey("db_engine", AsyncEngine)
DB_SESSIONS = web.AppKey("db_sessions", async_sessionmaker[AsyncSession])
TOKENS = web.AppKey("tokens", TokenService)
SIO = web.AppKey("sio", Any)
"The python-socketio AsyncServer (untyped library)."
