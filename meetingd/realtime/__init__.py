"""Real time: the socket.io namespace, ordered delivery of meeting events, Redis scale-out.

:class:`~meetingd.realtime.server.RealtimeServer` is what the app factory wires in; the
commands it serves are the table's (:mod:`meetingd.commands`), the events it delivers are
:mod:`meetingd.events` (``python -m meetingd.contract reference`` prints the reference).
"""
