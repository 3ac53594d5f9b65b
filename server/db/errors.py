"""Telling an unreachable database (a 503, retry later) from a bug or a refused value."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


def is_unreachable(exc: BaseException) -> bool:
    """The database cannot be reached (down, restarting, network): not a bug, a 503."""
    if isinstance(exc, (OperationalError, InterfaceError, OSError, TimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated
