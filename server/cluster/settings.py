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
    # Media load shedding (server/cluster/load.py). A window mean at or above a threshold (CPU
    # share of one core, or event-loop lag) enters the level; both below `load_release_ratio`
    # of it leave it. Tests set a threshold to 0 to make a node saturated from the start.
    saturation_cpu: float = Field(default=0.85, ge=0)
    "Saturated (no new rooms) from this CPU share of a core."
    saturation_lag_s: float = Field(default=0.05, ge=0)
    "Saturated from this mean event-loop lag."
    overload_cpu: float = Field(default=0.97, ge=0)
    "Overloaded (no new participants, reconnects still admitted) from this CPU share."
    overload_lag_s: float = Field(default=0.25, ge=0)
    "Overloaded from this mean event-loop lag."
    load_min_forwarded_pps: float = Field(default=2000.0, ge=0)
    "Below this forwarding rate the process is not shedding load, whatever its CPU or lag."
    load_sample_s: float = Field(default=0.5, gt=0, le=10)
    load_window_s: float = Field(default=3.0, gt=0, le=60)
    load_release_ratio: float = Field(default=0.8, gt=0, le=1)
    busy_retry_after_ms: int = Field(default=3000, ge=0)
    "Told to a client refused with `server_busy`: when to try again."

    @property
    def ttl_s(self) -> float:
        return self.heartbeat_s * self.heartbeat_ttl_factor
