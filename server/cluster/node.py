"""NodeInfo: one server process as the cluster sees it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeInfo:
    """A live server process: where clients reach its signaling, and how busy it is."""

    node_id: str
    url: str
    "Base URL a Socket.IO client connects to for this node (with ``?node=<node_id>``)."
    load_pps: float = 0.0
    "Forwarded RTP packets per second over the last heartbeat interval."
    rooms: int = 0
    draining: bool = False
    is_self: bool = False
    load_level: int = 0
    "Media saturation, `load.Level`: 0 takes new rooms, 1 saturated, 2 overloaded."

    @property
    def has_headroom(self) -> bool:
        return self.load_level == 0

    def score(self, room_cost_pps: float) -> float:
        """Placement cost: measured load plus an estimate for rooms not yet forwarding.

        A room placed a moment ago forwards nothing yet; without the per-room estimate every
        room created in the same second would land on the same idle node.
        """
        return self.load_pps + room_cost_pps * self.rooms
