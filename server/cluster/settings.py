"""The cluster's own settings (prefix ``TELESSAUDE_``), read next to server.settings."""

from __future__ import annotations

import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClusterSettings(BaseSettings):
    """How this process presents itself to the others. Only used with a Redis URL."""

    model_config = SettingsConfigDict(env_prefix="TELESSAUDE_", env_file=".env", extra="ignore")

    node_id: str = Field(default_factory=lambda: socket.gethostname())
    "Stable name of this process (e.g. app1); the reverse proxy routes ``?node=`` on it."
    node_url: str = ""
    "Base URL clients use to reach this node. Empty: the server's public URL."
    heartbeat_s: float = Field(default=2.0, gt=0, le=60)
    "Heartbeat period; a node and its room pins expire after ``heartbeat_ttl_factor`` periods."
    heartbeat_ttl_factor: float = Field(default=3.0, ge=2)
    pin_grace_s: float = Field(default=15.0, ge=0)
    "A room pinned here but not opened yet (client on its way) keeps its pin this long."
    room_cost_pps: float = Field(default=200.0, ge=0)
    "Estimated forwarded packets/s of one room, for placing rooms that do not forward yet."
    drain_timeout_s: float = Field(default=10.0, ge=0)
    "On SIGTERM, how long connected clients get to leave before their rooms are closed."
    redis_prefix: str = "telessaude"

    @property
    def ttl_s(self) -> float:
        return self.heartbeat_s * self.heartbeat_ttl_factor
