"""The Socket.IO edge of the consultation room: the /consultation namespace (docs/PROTOCOL.md).

    namespace = ConsultationNamespace(media_config, admission, session_log, chat, config)
    sio.register_namespace(namespace)        # then namespace.rooms is the media RoomRegistry
    await namespace.refresh_admission(consultation_id)   # e.g. after a consent was recorded
    await namespace.close()                  # on shutdown

The server implements and injects `Admission`, `SessionLog` and `ChatStore`; signaling never
imports the server, the database or aiohttp.
"""

import logging

from .config import SignalingConfig
from .errors import SignalingError
from .namespace import NAMESPACE, ConsultationNamespace, room_key
from .ports import (
    Admission,
    CallerKind,
    ChatEntry,
    ChatStore,
    HoldReason,
    Identity,
    JoinGrant,
    SessionLog,
)

__all__ = [
    "NAMESPACE",
    "Admission",
    "CallerKind",
    "ChatEntry",
    "ChatStore",
    "ConsultationNamespace",
    "HoldReason",
    "Identity",
    "JoinGrant",
    "SessionLog",
    "SignalingConfig",
    "SignalingError",
    "room_key",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
