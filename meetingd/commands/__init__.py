"""Every command of meetingd, declared once (see :mod:`meetingd.commands.table`).

Importing this package fills :data:`COMMANDS`, one module per noun. The socket-only families
(:mod:`~meetingd.commands.stream`: ``meeting.join``/``resync``/``leave``, and
:mod:`~meetingd.commands.rtc`) reach the connection through ``Context.socket``.
"""

from meetingd.commands import (
    auth,
    directory,
    documents,
    floor,
    meetings,
    minutes,
    rollcall,
    rtc,
    stream,
    votes,
)
from meetingd.commands.table import COMMANDS, Command, CommandTable, Context, Rest

__all__ = [
    "COMMANDS",
    "Command",
    "CommandTable",
    "Context",
    "Rest",
    "auth",
    "directory",
    "documents",
    "floor",
    "meetings",
    "minutes",
    "rollcall",
    "rtc",
    "stream",
    "votes",
]
