"""Real time: the socket.io namespace, ordered delivery of meeting events, Redis scale-out.

:class:`~meetingd.realtime.server.RealtimeServer` is what the app factory wires in;
:mod:`~meetingd.realtime.commands` and :mod:`~meetingd.realtime.catalog` are the command
and event reference (``python -m meetingd.realtime.reference`` prints it as Markdown).
"""

from meetingd.realtime.server import RealtimeServer

__all__ = ["RealtimeServer"]
