"""Fixtures of the signaling tests live in tests/signaling/live.py (tests/server reuses them)."""

from tests.signaling.live import clips, live, live_db, peers

__all__ = ["clips", "live", "live_db", "peers"]
