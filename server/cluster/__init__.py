"""Past one process: room affinity in Redis, the Socket.IO Redis manager, draining.

    placement = RedisPlacement(redis, self_node, hosted=..., load=...)   # or LocalPlacement
    await placement.start()            # registers this node and heart-beats
    node = await placement.locate(consultation_id)   # NodeInfo: self, or the node to go to
    await placement.drain()            # stop taking rooms, release ours (SIGTERM)
    await placement.stop()

`setup_cluster(app)` wires it into the app: with no ``TELESSAUDE_REDIS_URL`` the process stays
alone (LocalPlacement, in-memory Socket.IO manager) and nothing here needs Redis.
"""

from .node import NodeInfo
from .placement import LocalPlacement, Placement, RedisPlacement
from .settings import ClusterSettings

__all__ = ["ClusterSettings", "LocalPlacement", "NodeInfo", "Placement", "RedisPlacement"]
