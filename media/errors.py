"""One error hierarchy for the media plane.

The control plane maps these to its own wire errors once (``{code, message}``); the
codes are stable strings so a client can react to them (for example ``glare``: answer the
server's pending offer first, then offer again).
"""

from __future__ import annotations


class MediaError(Exception):
    """Base class of every error the media plane raises on purpose.

    ``code`` is a short stable identifier, ``message`` a human readable sentence.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SignallingError(MediaError):
    """An SDP offer/answer or ICE candidate was malformed or arrived at the wrong time."""


class UnsupportedCodecError(SignallingError):
    """An offer proposed only codecs the forwarder cannot pass through (e.g. VP9, PCMU)."""

    def __init__(self, message: str) -> None:
        super().__init__("unsupported_codecs", message)


class NotFoundError(MediaError):
    """A room or endpoint id is unknown."""


class ConflictError(MediaError):
    """A room or endpoint id is already in use."""


class PrivateApiError(RuntimeError):
    """The installed aiortc/aioice/pylibsrtp do not match the internals we rely on.

    Raised at import or start-up: it is a deployment error, never a runtime condition.
    """
