"""The search and sort columns stored next to every name, cut to fit their columns.

Folding can lengthen a name ("ß" folds to "ss") and a sort key takes about three
characters per letter (six for a character outside the Vietnamese alphabet), so a long
name's derived values can outgrow their columns; PostgreSQL would refuse them. Cutting
them costs nothing that matters: a search still matches the first 200 folded
characters, and names that agree on their first 800 key characters sort by id.
"""

from __future__ import annotations

from meetingd import text

FOLD_LENGTH = 200  # the name_fold columns
SORT_KEY_LENGTH = 800  # the sort_key columns


def fold(name: str) -> str:
    """:func:`meetingd.text.fold`, no longer than the ``name_fold`` columns."""
    return text.fold(name)[:FOLD_LENGTH]


def sort_key(name: str) -> str:
    """:func:`meetingd.text.sort_key`, no longer than the ``sort_key`` columns."""
    return text.sort_key(name)[:SORT_KEY_LENGTH]
