"""meetingd's media plane: an SFU on aiortc that forwards RTP without decoding.

The control plane drives it through this interface only; ``media`` never imports
``meetingd``. See media/README.md.
"""

from .cascade import CascadeNode, PeerNode, RemoteMember
from .config import IceServer, MediaConfig, turn_credentials
from .endpoint import Endpoint
from .errors import (
    ConflictError,
    MediaError,
    NotFoundError,
    PrivateApiError,
    SignallingError,
    UnsupportedCodecError,
)
from .plane import MediaPlane
from .policy import Kind, LinkMode, Role
from .recording import RecordingInfo
from .room import Layout, LinkState, Room, SlotInfo, link_state
from .stats import EndpointStats

__all__ = [
    "CascadeNode",
    "ConflictError",
    "Endpoint",
    "EndpointStats",
    "IceServer",
    "Kind",
    "Layout",
    "LinkMode",
    "LinkState",
    "MediaConfig",
    "MediaError",
    "MediaPlane",
    "NotFoundError",
    "PeerNode",
    "PrivateApiError",
    "RecordingInfo",
    "RemoteMember",
    "Role",
    "Room",
    "SignallingError",
    "SlotInfo",
    "UnsupportedCodecError",
    "link_state",
    "turn_credentials",
]
