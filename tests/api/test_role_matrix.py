"""The role matrix: every endpoint, every kind of caller, against the objects of the caller's
own district (D1) and of another district (D2).

The expected statuses are written out by hand below, one row per endpoint and side. The
endpoint list comes from the route registry, so a new endpoint without a row fails
``test_every_endpoint_has_a_row``. Every refused request is checked for the error shape, for
being documented in the OpenAPI document, and for having committed no write at all; every
accepted change is checked for having committed one (so the write counter is seen to work).

Sides: "own" targets district D1's objects (the world's meeting M1, commune C1, bp1, the
delegate); "other" targets district D2's (meeting M2, commune C3, bp3, delegate_other).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import pytest

from meetingd.api.system import OPENAPI
from meetingd.app import all_routes
from meetingd.config import Config
from meetingd.domain import Role
from tests.api.checks import WriteCounter, check_error_body
from tests.api.conftest import Both
from tests.api.worlds import Side, chair_of, fresh_meeting
from tests.conftest import PASSWORD, TEST_KEY

CALLERS = (
    "admin", "operator", "chair", "secretary", "delegate",
    "operator_d2", "chair_d2", "delegate_other", "bp1", "bp3",
    "none", "expired", "revoked", "garbage", "forged",
)  # fmt: skip
"""D1 staff: operator, chair, secretary; delegate of commune C1; D2 staff: operator_d2,
chair_d2; delegate_other of commune C3; bp1 is invited to M1, bp3 to M2. The last five
carry no token, an expired one, a revoked one, garbage, and one signed with another key
(all but "none" and "garbage" in the admin's name)."""

# Columns follow CALLERS:
#  adm  op   ch   sec  del  op2  ch2  dlo  bp1  bp3 | none exp  rev  junk forged
MATRIX: dict[str, dict[Side, str]] = {
    "healthz": {
        "own":   "200  200  200  200  200  200  200  200  200  200 | 200  200  200  200  200",
        "other": "200  200  200  200  200  200  200  200  200  200 | 200  200  200  200  200",
    },
    "login": {  # own: the secretary logs in; other: chair_d2 (a token sent along is ignored)
        "own":   "200  200  200  200  200  200  200  200  200  200 | 200  200  200  200  200",
        "other": "200  200  200  200  200  200  200  200  200  200 | 200  200  200  200  200",
    },
    "device_login": {  # own: bp2's credential; other: bp3's
        "own":   "200  200  200  200  200  200  200  200  200  200 | 200  200  200  200  200",
        "other": "200  200  200  200  200  200  200  200  200  200 | 200  200  200  200  200",
    },
    "logout": {  # each caller logs out a fresh token of its own
        "own":   "204  204  204  204  204  204  204  204  204  204 | 401  401  401  401  401",
        "other": "204  204  204  204  204  204  204  204  204  204 | 401  401  401  401  401",
    },
    "me": {
        "own":   "200  200  200  200  200  200  200  200  200  200 | 401  401  401  401  401",
        "other": "200  200  200  200  200  200  200  200  200  200 | 401  401  401  401  401",
    },
    # -- units ---------------------------------------------------------------------------
    "create_unit": {  # a commune under D1 / under D2
        "own":   "201  201  403  403  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "201  404  404  404  404  201  403  404  404  404 | 401  401  401  401  401",
    },
    "list_units": {  # own: everything visible; other: ?parent_id=D2 (rows checked elsewhere)
        "own":   "200  200  200  200  200  200  200  200  200  200 | 401  401  401  401  401",
        "other": "200  200  200  200  200  200  200  200  200  200 | 401  401  401  401  401",
    },
    "get_unit": {  # C1 / C3
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "rename_unit": {  # C1 / C3
        "own":   "200  200  403  403  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  403  403  404  403 | 401  401  401  401  401",
    },
    # -- bridge points ----------------------------------------------------------------------
    "create_bridge_point": {  # in C1 / in C3
        "own":   "201  201  403  403  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "201  404  404  404  404  201  403  403  404  403 | 401  401  401  401  401",
    },
    "list_bridge_points": {  # own: everything visible; other: ?unit_id=C3
        "own":   "200  200  200  200  200  200  200  200  403  403 | 401  401  401  401  401",
        "other": "200  200  200  200  200  200  200  200  403  403 | 401  401  401  401  401",
    },
    "get_bridge_point": {  # bp1 / bp3
        "own":   "200  200  200  200  404  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  404  404  200 | 401  401  401  401  401",
    },
    "update_bridge_point": {  # bp1 / bp3: a new room
        "own":   "200  200  403  403  404  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  403  404  404  403 | 401  401  401  401  401",
    },
    "rotate_credential": {  # a fresh bridge point in C1 / in C3
        "own":   "201  201  403  403  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "201  404  404  404  404  201  403  404  404  404 | 401  401  401  401  401",
    },
    "test_call": {  # a fresh bridge point in C1 / in C3
        "own":   "201  201  403  403  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "201  404  404  404  404  201  403  404  404  404 | 401  401  401  401  401",
    },
    "disable_bridge_point": {  # a fresh bridge point in C1 / in C3
        "own":   "200  200  403  403  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  403  404  404  404 | 401  401  401  401  401",
    },
    "enable_bridge_point": {  # a fresh bridge point in C1 / in C3
        "own":   "200  200  403  403  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  403  404  404  404 | 401  401  401  401  401",
    },
    # -- users ----------------------------------------------------------------------------
    "create_user": {  # with a delegate grant for C1 / for C3
        "own":   "201  201  403  403  403  404  403  403  403  403 | 401  401  401  401  401",
        "other": "201  404  403  403  403  201  403  403  403  403 | 401  401  401  401  401",
    },
    "list_users": {  # own: everything visible; other: ?role=chair
        "own":   "200  200  200  200  200  200  200  200  403  403 | 401  401  401  401  401",
        "other": "200  200  200  200  200  200  200  200  403  403 | 401  401  401  401  401",
    },
    "get_user": {  # the delegate / delegate_other
        "own":   "200  200  200  200  200  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  404 | 401  401  401  401  401",
    },
    "grant_role": {  # secretary of C1 to a fresh C1 delegate / of C3 to a fresh C3 delegate
        "own":   "201  201  403  403  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "201  404  404  404  404  201  403  404  404  404 | 401  401  401  401  401",
    },
    "revoke_role": {  # a fresh delegate's grant for C1 / for C3
        "own":   "200  200  403  403  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  403  403  404  403 | 401  401  401  401  401",
    },
    "disable_user": {  # a fresh delegate of C1 / of C3
        "own":   "200  200  403  403  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  403  404  404  404 | 401  401  401  401  401",
    },
    "enable_user": {  # a fresh delegate of C1 / of C3
        "own":   "200  200  403  403  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  403  404  404  404 | 401  401  401  401  401",
    },
    "reset_password": {  # a fresh delegate of C1 / of C3
        "own":   "200  200  403  403  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  403  404  404  404 | 401  401  401  401  401",
    },
    # -- meetings ---------------------------------------------------------------------------
    "create_meeting": {  # in D1 / in D2
        "own":   "201  403  201  201  404  404  404  404  403  403 | 401  401  401  401  401",
        "other": "201  404  404  404  404  403  201  404  403  403 | 401  401  401  401  401",
    },
    "list_meetings": {  # own: all; other: ?state=draft (rows checked elsewhere)
        "own":   "200  200  200  200  200  200  200  200  200  200 | 401  401  401  401  401",
        "other": "200  200  200  200  200  200  200  200  200  200 | 401  401  401  401  401",
    },
    "get_meeting": {  # M1 / M2
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "update_meeting": {
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "schedule_meeting": {  # a fresh draft
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "unschedule_meeting": {  # a fresh scheduled meeting
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "open_meeting": {  # a fresh draft
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "start_meeting": {  # a fresh scheduled meeting
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "pause_meeting": {  # a fresh live meeting
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "resume_meeting": {  # a fresh paused meeting
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "end_meeting": {  # a fresh live meeting
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "move_to_item": {  # a fresh live meeting, to its first item
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "invite_bridge_points": {  # bp2 to M1 / bp3 to M2 (both invited already: no change)
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "uninvite_bridge_point": {  # bp1 from a fresh D1 meeting / bp3 from a fresh D2 one
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "invite_delegates": {  # the delegate to M1 / delegate_other to M2 (no change)
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "uninvite_delegate": {  # from a fresh meeting
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "list_agenda": {  # M1 / M2
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "add_agenda_item": {  # to M1 / M2
        "own":   "201  403  201  201  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "201  404  404  404  404  403  201  403  404  403 | 401  401  401  401  401",
    },
    "update_agenda_item": {  # M1's first item / M2's
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "remove_agenda_item": {  # a fresh meeting's item
        "own":   "204  403  204  204  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "204  404  404  404  404  403  204  403  404  403 | 401  401  401  401  401",
    },
    "reorder_agenda": {  # a fresh meeting's two items, reversed
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    # -- floor (the meeting must be open, live or paused) ---------------------------------------
    "list_floor": {  # M1 / M2
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "request_floor": {  # a fresh live meeting: only invited delegates and bridge points ask
        "own":   "403  403  403  403  201  404  404  404  201  404 | 401  401  401  401  401",
        "other": "403  404  404  404  404  403  403  201  404  201 | 401  401  401  401  401",
    },
    "withdraw_floor": {  # a fresh live meeting, where the invited caller has asked first
        "own":   "409  409  409  409  204  404  404  404  204  404 | 401  401  401  401  401",
        "other": "409  404  404  404  404  409  409  204  404  204 | 401  401  401  401  401",
    },
    "grant_floor": {  # a fresh live meeting, to bp1 / bp3
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "revoke_floor": {  # bp1 / bp3 holds the floor of a fresh live meeting (and may give it up)
        "own":   "204  403  204  204  403  404  404  404  204  404 | 401  401  401  401  401",
        "other": "204  404  404  404  404  403  204  403  404  204 | 401  401  401  401  401",
    },
    "reorder_floor": {  # a fresh live meeting where bp1 and the delegate (bp3 and
        # delegate_other) asked to speak, reversed
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "mute_floor": {  # bp1 / bp3 holds the floor of a fresh live meeting
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "list_speeches": {  # M1 / M2: readers of the meeting
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    # -- roll call and presence ---------------------------------------------------------------
    "get_presence": {  # M1 / M2
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "get_rollcall": {  # a fresh live meeting with a roll call open
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "start_rollcall": {  # a fresh live meeting
        "own":   "201  403  201  201  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "201  404  404  404  404  403  201  403  404  403 | 401  401  401  401  401",
    },
    "answer_rollcall": {  # an open roll call: only invited bridge points answer
        "own":   "403  403  403  403  403  404  404  404  200  404 | 401  401  401  401  401",
        "other": "403  404  404  404  404  403  403  403  404  200 | 401  401  401  401  401",
    },
    "confirm_rollcall": {  # an open roll call: only invited delegates confirm
        "own":   "403  403  403  403  200  404  404  404  403  404 | 401  401  401  401  401",
        "other": "403  404  404  404  404  403  403  200  404  403 | 401  401  401  401  401",
    },
    "close_rollcall": {  # an open roll call
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    # -- votes: readers see them, managers open and close, electors cast ----------------------
    "list_votes": {  # M1 / M2
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "get_vote": {  # a vote open in a fresh live meeting
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "vote_status": {  # a vote open in a fresh live meeting
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "open_vote": {  # a fresh live meeting, its delegate named to vote
        "own":   "201  403  201  201  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "201  404  404  404  404  403  201  403  404  403 | 401  401  401  401  401",
    },
    "cast_ballot": {  # a vote open to the side's delegate and bridge point (bp1 / bp3)
        "own":   "403  403  403  403  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "403  404  404  404  404  403  403  200  404  200 | 401  401  401  401  401",
    },
    "close_vote": {  # a vote open in a fresh live meeting
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    # -- documents: managers always; others a published one whose audience names them -------
    "upload_document": {  # a PDF into M1 / M2 (the raw body is the file)
        "own":   "201  403  201  201  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "201  404  404  404  404  403  201  403  404  403 | 401  401  401  401  401",
    },
    "list_documents": {  # M1 / M2 (which rows each sees: tests/api/test_documents_api.py)
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "get_document": {  # confidential, for the delegate by name / for bp3 by name: others 404
        "own":   "200  404  200  200  200  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  404  200  404  404  200 | 401  401  401  401  401",
    },
    "document_file": {  # the same: each viewer gets its watermarked copy (an access is written)
        "own":   "200  404  200  200  200  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  404  200  404  404  200 | 401  401  401  401  401",
    },
    "open_document": {  # as document_file: a grant for the viewer's own watermarked copy
        "own":   "200  404  200  200  200  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  404  200  404  404  200 | 401  401  401  401  401",
    },
    "read_document": {  # the named viewer's grant: it is the credential, a token is ignored
        "own":   "200  200  200  200  200  200  200  200  200  200 | 200  200  200  200  200",
        "other": "200  200  200  200  200  200  200  200  200  200 | 200  200  200  200  200",
    },
    "document_thumbnail": {  # a published one for everyone
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    "set_note": {  # the confidential named ones: only their audience writes notes on them
        "own":   "204  404  204  204  204  404  404  404  404  404 | 401  401  401  401  401",
        "other": "204  404  404  404  404  404  204  404  404  204 | 401  401  401  401  401",
    },
    "list_notes": {  # the same (each reads back only its own)
        "own":   "200  404  200  200  200  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  404  200  404  404  200 | 401  401  401  401  401",
    },
    "update_document": {  # a published one for everyone
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "publish_document": {  # a draft: nobody but the managers knows it exists
        "own":   "200  404  200  200  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  404  200  404  404  404 | 401  401  401  401  401",
    },
    "unpublish_document": {  # a published one for everyone
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "remove_document": {  # a published one for everyone
        "own":   "204  403  204  204  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "204  404  404  404  404  403  204  403  404  403 | 401  401  401  401  401",
    },
    "present_document": {  # a fresh live meeting; the document names the delegate presenter
        "own":   "200  403  200  200  200  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  200  404  403 | 401  401  401  401  401",
    },
    "turn_page": {  # the chair presents it (named presenter: the delegate)
        "own":   "200  403  200  200  200  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  200  404  403 | 401  401  401  401  401",
    },
    "stop_presenting": {  # the chair presents: the chair, the secretary or the admin stop it
        "own":   "204  403  204  204  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "204  404  404  404  404  403  204  403  404  403 | 401  401  401  401  401",
    },
    "document_receipts": {  # M1 / M2
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "document_report": {  # M1 / M2, CSV
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    # -- minutes: the meeting's chair and secretary write them, its readers get the PDF ------
    "get_minutes": {  # M1 / M2
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "update_minutes": {  # a fresh meeting's draft minutes get a number
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "finalise_minutes": {  # a fresh ended meeting (the demo's test certificate signs)
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "minutes_pdf": {  # a fresh ended meeting whose minutes are final
        "own":   "200  200  200  200  200  404  404  404  200  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  200  404  200 | 401  401  401  401  401",
    },
    # -- reports upward: a meeting's managers; a unit's chairs, secretaries and operators ----
    "meeting_report": {  # M1 / M2, CSV
        "own":   "200  403  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  403  200  403  404  403 | 401  401  401  401  401",
    },
    "unit_report": {  # district D1 / D2, a year of meetings
        "own":   "200  200  200  200  404  404  404  404  404  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  404  404  404 | 401  401  401  401  401",
    },
    # -- media health: the meeting's operators, chair and secretary ---------------------------
    "media_health": {  # M1 / M2
        "own":   "200  200  200  200  403  404  404  404  403  404 | 401  401  401  401  401",
        "other": "200  404  404  404  404  200  200  403  404  403 | 401  401  401  401  401",
    },
}  # fmt: skip


def row(text: str) -> dict[str, int]:
    cells = [int(c) for c in text.replace("|", " ").split()]
    assert len(cells) == len(CALLERS), text
    return dict(zip(CALLERS, cells, strict=True))


# -- requests ------------------------------------------------------------------------------

KEEP = object()  # "send the caller's own token"


@dataclass
class Req:
    params: dict[str, int] = dataclasses.field(default_factory=dict)
    body: Any = None
    query: str = ""
    token: Any = KEEP
    #: A raw body (a file upload) sent instead of ``body`` as JSON.
    data: bytes | None = None


@dataclass
class Ctx:
    b: Both
    serial: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def unit(self, side: Side, level: str = "C") -> int:
        return self.b.w.units[level + ("1" if side == "own" else "3")]

    def district(self, side: Side) -> int:
        return self.b.w.units["D1" if side == "own" else "D2"]

    def bp(self, side: Side) -> int:
        return self.b.w.bridge_points["bp1" if side == "own" else "bp3"]

    def meeting(self, side: Side) -> int:
        return self.b.w.meeting_id if side == "own" else self.b.m2.id

    def item(self, side: Side) -> int:
        return self.b.w.agenda_ids[0] if side == "own" else self.b.m2.items[0]

    def delegate(self, side: Side) -> int:
        return self.b.w.users["delegate" if side == "own" else "delegate_other"]

    def name(self) -> str:
        return f"x{next(self.serial)}"

    async def fresh(self, side: Side, state: str = "draft", items: int = 0) -> Any:
        return await fresh_meeting(self.b.parts, self.b.w, side, state, items=items)

    async def fresh_bp(self, side: Side) -> int:
        new = await self.b.parts.services.directory.create_bridge_point(
            None, unit_id=self.unit(side), name=f"Điểm cầu {self.name()}"
        )
        return new.bridge_point.id

    async def fresh_user(self, side: Side) -> int:
        user = await self.b.parts.services.directory.create_user(
            None, login=self.name(), display_name="Người Mới", password=PASSWORD,
            grants=[(self.unit(side), Role.DELEGATE)],
        )  # fmt: skip
        return user.id

    async def fresh_token(self, caller: str) -> str:
        auth = self.b.parts.services.auth
        if caller.startswith("bp"):
            return (await auth.device_login(self.b.w.credentials[caller], "matrix")).token
        return (await auth.login(caller, PASSWORD, "matrix")).token


Build = Callable[[Ctx, Side, str], Awaitable[Req]]
Prepare = Callable[[Ctx, Side, str, Req], Awaitable[Req]]


def transition(state: str, items: int = 0) -> Build:
    async def build(c: Ctx, side: Side, caller: str) -> Req:
        m = await c.fresh(side, state, items)
        return Req({"meeting_id": m.id})

    return build


async def _logout(c: Ctx, side: Side, caller: str, req: Req) -> Req:
    if caller in c.b.w.tokens:
        return dataclasses.replace(req, token=await c.fresh_token(caller))
    return req


async def _move(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side, "live", items=2)
    return Req({"meeting_id": m.id}, {"item_id": m.items[0]})


async def _uninvite_bp(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side)
    return Req({"meeting_id": m.id, "bridge_point_id": c.bp(side)})


async def _uninvite_delegate(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side)
    return Req({"meeting_id": m.id, "user_id": c.delegate(side)})


async def _remove_item(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side, items=1)
    return Req({"meeting_id": m.id, "item_id": m.items[0]})


async def _reorder(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side, items=2)
    return Req({"meeting_id": m.id}, {"ids": list(reversed(m.items))})


async def _rotate(c: Ctx, side: Side, caller: str) -> Req:
    return Req({"bridge_point_id": await c.fresh_bp(side)})


async def _fresh_bp(c: Ctx, side: Side, caller: str) -> Req:
    return Req({"bridge_point_id": await c.fresh_bp(side)})


async def _fresh_user(c: Ctx, side: Side, caller: str) -> Req:
    return Req({"user_id": await c.fresh_user(side)})


async def _new_password(c: Ctx, side: Side, caller: str) -> Req:
    return Req({"user_id": await c.fresh_user(side)}, {"password": "một mật khẩu mới"})


async def _grant(c: Ctx, side: Side, caller: str) -> Req:
    user = await c.fresh_user(side)
    return Req({"user_id": user}, {"unit_id": c.unit(side), "role": "secretary"})


async def _revoke(c: Ctx, side: Side, caller: str) -> Req:
    user = await c.fresh_user(side)
    return Req({"user_id": user}, {"unit_id": c.unit(side), "role": "delegate"})


def _subject(c: Ctx, side: Side) -> str:
    return f"bridge_point:{c.bp(side)}"


async def _floor(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side, "live")
    return Req({"meeting_id": m.id})


async def _ask_first(c: Ctx, side: Side, caller: str, req: Req) -> Req:
    speakers = ("delegate", "bp1") if side == "own" else ("delegate_other", "bp3")
    if caller in speakers:
        principal = await c.b.parts.services.auth.authenticate(c.b.w.tokens[caller])
        await c.b.parts.services.floor.request(principal, req.params["meeting_id"])
    return req


async def _holder(c: Ctx, side: Side, caller: str, body: dict[str, Any]) -> Req:
    m = await c.fresh(side, "live")
    chair = await chair_of(c.b.parts, c.b.w, side)
    await c.b.parts.services.floor.grant(chair, m.id, _subject(c, side))
    return Req({"meeting_id": m.id}, {"subject": _subject(c, side), **body})


async def _revoke_floor(c: Ctx, side: Side, caller: str) -> Req:
    return await _holder(c, side, caller, {})


async def _mute(c: Ctx, side: Side, caller: str) -> Req:
    return await _holder(c, side, caller, {"muted": True})


async def _grant_floor(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side, "live")
    return Req({"meeting_id": m.id}, {"subject": _subject(c, side)})


async def _rollcall(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side, "live")
    await c.b.parts.services.rollcall.start(await chair_of(c.b.parts, c.b.w, side), m.id)
    return Req({"meeting_id": m.id})


async def _queue(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side, "live")
    a = c.b.parts.services.auth
    speakers = ("bp1", "delegate") if side == "own" else ("bp3", "delegate_other")
    for name in speakers:
        await c.b.parts.services.floor.request(await a.authenticate(c.b.w.tokens[name]), m.id)
    subjects = [f"bridge_point:{c.bp(side)}", f"user:{c.delegate(side)}"]
    return Req({"meeting_id": m.id}, {"subjects": list(reversed(subjects))})


async def _answer(c: Ctx, side: Side, caller: str) -> Req:
    return dataclasses.replace(await _rollcall(c, side, caller), body={"count": 12})


async def _document(c: Ctx, side: Side, meeting_id: int | None = None, **flags: Any) -> Any:
    from tests.api.documents_world import seed_document

    m = c.meeting(side) if meeting_id is None else meeting_id
    return await seed_document(c.b.parts, c.b.w, m, **flags)


def _named(c: Ctx, side: Side) -> str:
    """The one viewer a confidential document of the side is for, by name."""
    return f"user:{c.delegate('own')}" if side == "own" else _subject(c, side)


async def _public_doc(c: Ctx, side: Side, caller: str) -> Req:
    doc = await _document(c, side)
    return Req({"meeting_id": doc.meeting_id, "document_id": doc.id})


async def _named_doc(c: Ctx, side: Side, caller: str) -> Req:
    doc = await _document(c, side, confidential=True, audience=[_named(c, side)])
    return Req({"meeting_id": doc.meeting_id, "document_id": doc.id})


async def _granted(c: Ctx, side: Side, caller: str) -> Req:
    """A range of a confidential document, under the reading grant of the one it is for."""
    req = await _named_doc(c, side, caller)
    viewer = await c.b.parts.services.auth.authenticate(
        c.b.w.tokens["delegate" if side == "own" else "bp3"]
    )
    reading = await c.b.parts.services.documents.open_reading(
        viewer, req.params["meeting_id"], req.params["document_id"]
    )
    return dataclasses.replace(req, query=f"grant={reading.grant}")


async def _draft_doc(c: Ctx, side: Side, caller: str) -> Req:
    doc = await _document(c, side, published=False)
    return Req({"meeting_id": doc.meeting_id, "document_id": doc.id})


async def _presentable(c: Ctx, side: Side) -> Any:
    m = await c.fresh(side, "live")
    return await _document(c, side, m.id, presenters=[f"user:{c.delegate(side)}"])


async def _present(c: Ctx, side: Side, caller: str) -> Req:
    doc = await _presentable(c, side)
    return Req({"meeting_id": doc.meeting_id}, {"document_id": doc.id, "page": 2})


async def _presented(c: Ctx, side: Side, caller: str) -> Req:
    doc = await _presentable(c, side)
    chair = await chair_of(c.b.parts, c.b.w, side)
    await c.b.parts.services.documents.present(chair, doc.meeting_id, doc.id, 1)
    return Req({"meeting_id": doc.meeting_id})


async def _turn(c: Ctx, side: Side, caller: str) -> Req:
    return dataclasses.replace(await _presented(c, side, caller), body={"page": 2})


async def _note(c: Ctx, side: Side, caller: str) -> Req:
    req = await _named_doc(c, side, caller)
    return dataclasses.replace(req, body={"page": 1, "text": "Ghi chú riêng: xem lại mục 2"})


async def _retitle(c: Ctx, side: Side, caller: str) -> Req:
    return dataclasses.replace(await _public_doc(c, side, caller), body={"title": "Báo cáo (sửa)"})


async def _upload(c: Ctx, side: Side, caller: str) -> Req:
    from tests.api.documents_world import plain_pdf

    return Req({"meeting_id": c.meeting(side)}, query="filename=B%C3%A1o%20c%C3%A1o.pdf",
               data=plain_pdf())  # fmt: skip


async def _open_vote(c: Ctx, side: Side, caller: str) -> Req:
    m = await c.fresh(side, "live")
    body = {"question": "Thông qua?", "electorate": "named", "voters": [f"user:{c.delegate(side)}"]}
    return Req({"meeting_id": m.id}, body)


async def _vote(c: Ctx, side: Side, caller: str) -> Req:
    from meetingd.schemas import VoteIn

    m = await c.fresh(side, "live")
    voters = [f"user:{c.delegate(side)}", _subject(c, side)]
    spec = VoteIn(question="Thông qua?", electorate="named", voters=voters, bridge_points_vote=True)
    vote = await c.b.parts.services.votes.open(await chair_of(c.b.parts, c.b.w, side), m.id, spec)
    return Req({"meeting_id": m.id, "vote_id": vote.id})


async def _ballot(c: Ctx, side: Side, caller: str) -> Req:
    return dataclasses.replace(await _vote(c, side, caller), body={"choice": [0]})


async def _ended(c: Ctx, side: Side, caller: str) -> Req:
    from pathlib import Path

    from meetingd.services.minutes import DEMO_P12, make_test_certificate

    data_dir = Path(c.b.parts.config.server.data_dir)
    if not (data_dir / DEMO_P12).exists():
        make_test_certificate(data_dir, "UBND huyện Hoằng Hóa")
    m = await c.fresh(side, "ended")
    return Req({"meeting_id": m.id})


async def _final_minutes(c: Ctx, side: Side, caller: str) -> Req:
    req = await _ended(c, side, caller)
    chair = await chair_of(c.b.parts, c.b.w, side)
    await c.b.parts.services.minutes.finalise(chair, req.params["meeting_id"])
    return req


def fixed(make: Callable[[Ctx, Side], Req]) -> Build:
    async def build(c: Ctx, side: Side, caller: str) -> Req:
        return make(c, side)

    return build


STARTS = "2026-12-01T08:00:00+07:00"

REQUESTS: dict[str, Build] = {
    "healthz": fixed(lambda c, s: Req()),
    "login": fixed(lambda c, s: Req(body={
        "login": "secretary" if s == "own" else "chair_d2", "password": PASSWORD})),
    "device_login": fixed(lambda c, s: Req(body={
        "credential": c.b.w.credentials["bp2" if s == "own" else "bp3"]})),
    "logout": fixed(lambda c, s: Req()),
    "me": fixed(lambda c, s: Req()),
    "create_unit": fixed(lambda c, s: Req(body={
        "code": c.name(), "name": "Xã Mới", "kind": "commune", "parent_id": c.district(s)})),
    "list_units": fixed(lambda c, s: Req(
        query="" if s == "own" else f"parent_id={c.district('other')}")),
    "get_unit": fixed(lambda c, s: Req({"unit_id": c.unit(s)})),
    "rename_unit": fixed(lambda c, s: Req({"unit_id": c.unit(s)}, {"name": "Xã Đổi Tên"})),
    "create_bridge_point": fixed(lambda c, s: Req(body={
        "unit_id": c.unit(s), "name": "Điểm cầu mới"})),
    "list_bridge_points": fixed(lambda c, s: Req(
        query="" if s == "own" else f"unit_id={c.unit('other')}")),
    "get_bridge_point": fixed(lambda c, s: Req({"bridge_point_id": c.bp(s)})),
    "update_bridge_point": fixed(lambda c, s: Req(
        {"bridge_point_id": c.bp(s)}, {"room": "Phòng họp số 2"})),
    "rotate_credential": _rotate,
    "test_call": _rotate,
    "disable_bridge_point": _fresh_bp,
    "enable_bridge_point": _fresh_bp,
    "disable_user": _fresh_user,
    "enable_user": _fresh_user,
    "reset_password": _new_password,
    "create_user": fixed(lambda c, s: Req(body={
        "login": c.name(), "display_name": "Người Mới", "password": PASSWORD,
        "grants": [{"unit_id": c.unit(s), "role": "delegate"}]})),
    "list_users": fixed(lambda c, s: Req(query="" if s == "own" else "role=chair")),
    "get_user": fixed(lambda c, s: Req({"user_id": c.delegate(s)})),
    "grant_role": _grant,
    "revoke_role": _revoke,
    "create_meeting": fixed(lambda c, s: Req(body={
        "unit_id": c.district(s), "title": "Họp mới", "starts_at": STARTS})),
    "list_meetings": fixed(lambda c, s: Req(query="" if s == "own" else "state=draft")),
    "get_meeting": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "update_meeting": fixed(lambda c, s: Req(
        {"meeting_id": c.meeting(s)}, {"title": "Giao ban tháng 12"})),
    "schedule_meeting": transition("draft"),
    "unschedule_meeting": transition("scheduled"),
    "open_meeting": transition("draft"),
    "start_meeting": transition("scheduled"),
    "pause_meeting": transition("live"),
    "resume_meeting": transition("paused"),
    "end_meeting": transition("live"),
    "move_to_item": _move,
    "invite_bridge_points": fixed(lambda c, s: Req(
        {"meeting_id": c.meeting(s)},
        {"ids": [c.b.w.bridge_points["bp2" if s == "own" else "bp3"]]})),
    "uninvite_bridge_point": _uninvite_bp,
    "invite_delegates": fixed(lambda c, s: Req(
        {"meeting_id": c.meeting(s)}, {"ids": [c.delegate(s)]})),
    "uninvite_delegate": _uninvite_delegate,
    "list_agenda": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "add_agenda_item": fixed(lambda c, s: Req(
        {"meeting_id": c.meeting(s)}, {"title": "Mục bổ sung"})),
    "update_agenda_item": fixed(lambda c, s: Req(
        {"meeting_id": c.meeting(s), "item_id": c.item(s)}, {"duration_minutes": 15})),
    "remove_agenda_item": _remove_item,
    "reorder_agenda": _reorder,
    "list_floor": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "list_speeches": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "request_floor": _floor,
    "withdraw_floor": _floor,
    "grant_floor": _grant_floor,
    "revoke_floor": _revoke_floor,
    "mute_floor": _mute,
    "reorder_floor": _queue,
    "get_presence": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "get_rollcall": _rollcall,
    "start_rollcall": _floor,
    "answer_rollcall": _answer,
    "confirm_rollcall": _rollcall,
    "close_rollcall": _rollcall,
    "media_health": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "upload_document": _upload,
    "list_documents": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "get_document": _named_doc,
    "document_file": _named_doc,
    "open_document": _named_doc,
    "read_document": _granted,
    "document_thumbnail": _public_doc,
    "set_note": _note,
    "list_notes": _named_doc,
    "update_document": _retitle,
    "publish_document": _draft_doc,
    "unpublish_document": _public_doc,
    "remove_document": _public_doc,
    "present_document": _present,
    "turn_page": _turn,
    "stop_presenting": _presented,
    "document_receipts": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "document_report": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)}, query="format=csv")),
    "list_votes": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "get_vote": _vote,
    "vote_status": _vote,
    "open_vote": _open_vote,
    "cast_ballot": _ballot,
    "close_vote": _vote,
    "get_minutes": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "update_minutes": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)}, {"number": "7/BB"})),
    "finalise_minutes": _ended,
    "minutes_pdf": _final_minutes,
    "meeting_report": fixed(lambda c, s: Req({"meeting_id": c.meeting(s)})),
    "unit_report": fixed(lambda c, s: Req(
        {"unit_id": c.district(s)}, query="start=2026-01-01&end=2027-12-31&format=xlsx")),
}  # fmt: skip

#: Changing endpoints that may succeed without a write (the invitations already exist).
MAY_NOT_WRITE = {"login", "invite_bridge_points", "invite_delegates"}

#: Endpoints whose refusals are audited (a refused ballot): a refusal writes its audit row.
AUDITS_REFUSALS = {"cast_ballot"}

#: GETs that record the reading (a served document file writes its read receipt and audit
#: row): each must write when it answers 2xx, and, like every GET, not when refused.
RECORDS_READS = {"document_file"}

#: Per-caller steps run on the (possibly reused) request just before it is sent.
PREPARE: dict[str, Prepare] = {"logout": _logout, "withdraw_floor": _ask_first}


def bad_tokens(b: Both) -> dict[str, str | None]:
    """Tokens that must not work, most of them in the admin's name."""
    admin = b.w.users["admin"]
    now = b.parts.clock.now()
    claims = {"sub": f"user:{admin}", "jti": "matrix", "iat": int(now.timestamp())}
    expired = {**claims, "exp": int((now - timedelta(seconds=1)).timestamp())}
    valid = {**claims, "exp": int((now + timedelta(hours=1)).timestamp())}
    return {
        "none": None,
        "expired": jwt.encode(expired, TEST_KEY, algorithm="HS256"),
        "garbage": "ceci.nest.pas-un-jeton",
        "forged": jwt.encode(valid, "not-the-signing-key-" + "y" * 32, algorithm="HS256"),
    }


@pytest.fixture
def config(config: Config) -> Config:
    """The matrix logs in hundreds of times from one address: lift the login limits."""
    auth = dataclasses.replace(
        config.auth, login_attempts_per_minute_account=10_000,
        login_attempts_per_minute_address=10_000,
    )  # fmt: skip
    return dataclasses.replace(config, auth=auth)


def test_every_endpoint_has_a_row() -> None:
    ids = [ep.handler.__name__ for ep in all_routes().endpoints]
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    assert set(MATRIX) == set(ids), (
        f"rows missing: {sorted(set(ids) - set(MATRIX))}; "
        f"rows for no endpoint: {sorted(set(MATRIX) - set(ids))}"
    )
    assert set(REQUESTS) == set(ids)
    for op, sides in MATRIX.items():
        assert set(sides) == {"own", "other"}, op
        for text in sides.values():
            row(text)


TAGS = sorted({ep.tag for ep in all_routes().endpoints})


@pytest.mark.timeout(300)
@pytest.mark.parametrize("tag", TAGS)
async def test_role_matrix(client: Any, app: Any, both: Both, subtests: Any, tag: str) -> None:
    ctx = Ctx(both)
    tokens: dict[str, str | None] = {**both.w.tokens, **bad_tokens(both)}
    revoked = await ctx.fresh_token("admin")
    await both.parts.services.auth.logout(revoked)
    tokens["revoked"] = revoked
    documented = json.loads(app[OPENAPI])["paths"]
    writes = WriteCounter(both.parts.store)
    for ep in all_routes().endpoints:
        if ep.tag != tag:
            continue
        op = ep.handler.__name__
        if op not in MATRIX:
            continue  # test_every_endpoint_has_a_row reports it
        responses = documented[ep.path][ep.method.lower()]["responses"]
        for side in ("own", "other"):
            # A refused request writes nothing (checked below), so its target is reused
            # by the next caller; a request that changed something gets a fresh one.
            ready: Req | None = None
            for caller, want in row(MATRIX[op][side]).items():
                with subtests.test(f"{op} {side} {caller}"):
                    if ready is None:
                        ready = await REQUESTS[op](ctx, side, caller)
                    req = ready
                    if op in PREPARE:
                        req = await PREPARE[op](ctx, side, caller, req)
                    token = tokens[caller] if req.token is KEEP else req.token
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    path = ep.path.format(**req.params) + (f"?{req.query}" if req.query else "")
                    before = writes.commits
                    sent = {"data": req.data} if req.data is not None else {"json": req.body}
                    resp = await client.request(ep.method, path, headers=headers, **sent)
                    text = (await resp.read()).decode(errors="replace")  # a file is bytes
                    wrote = writes.commits - before
                    if wrote:
                        ready = None
                    assert resp.status == want, f"{op} {side} {caller}: {resp.status} {text}"
                    assert str(resp.status) in responses, f"{op}: {resp.status} undocumented"
                    reads = ep.method == "GET" and op not in RECORDS_READS
                    if (want >= 400 and op not in AUDITS_REFUSALS) or reads:
                        assert not wrote, f"{op} {side} {caller}: {want}, yet wrote"
                    if want >= 400:
                        check_error_body(json.loads(text), want)
                    elif not reads and op not in MAY_NOT_WRITE:
                        assert wrote, f"{op} {side} {caller}: done, yet wrote nothing"


# -- lists ----------------------------------------------------------------------------------

# What each caller's unfiltered list holds, in the order the API gives it (Vietnamese
# alphabetical for names: Đ after D and before E; meetings latest first). "403" = refused.
#            units (by code)          bridge points    users (by login)                meetings
LISTS: dict[str, tuple[str, str, str, str]] = {
    "admin": ("D2 D1 P C3 C2 C1", "bp1 bp2 bp3",
              "delegate_other chair_d2 operator chair delegate admin secretary operator_d2",
              "M2 M1"),
    "operator": ("D1 C2 C1", "bp1 bp2", "operator chair delegate secretary", "M1"),
    "chair": ("D1 C2 C1", "bp1 bp2", "operator chair delegate secretary", "M1"),
    "secretary": ("D1 C2 C1", "bp1 bp2", "operator chair delegate secretary", "M1"),
    "delegate": ("C1", "", "", "M1"),
    "operator_d2": ("D2 C3", "bp3", "delegate_other chair_d2 operator_d2", "M2"),
    "chair_d2": ("D2 C3", "bp3", "delegate_other chair_d2 operator_d2", "M2"),
    "delegate_other": ("C3", "", "", "M2"),
    "bp1": ("C1", "403", "403", "M1"),
    "bp3": ("C3", "403", "403", "M2"),
}  # fmt: skip


async def test_lists_show_only_what_the_caller_may_see(client: Any, both: Both) -> None:
    w = both.w
    units = {v: k for k, v in w.units.items()}
    bps = {v: k for k, v in w.bridge_points.items()}
    users = {v: k for k, v in w.users.items()}
    meetings = {w.meeting_id: "M1", both.m2.id: "M2"}
    for caller, expected in LISTS.items():
        got = []
        for path, names, key in (
            ("/api/v1/units", units, "id"),
            ("/api/v1/bridge-points", bps, "id"),
            ("/api/v1/users", users, "id"),
            ("/api/v1/meetings", meetings, "id"),
        ):
            resp = await client.get(path, headers=w.auth(caller))
            if resp.status == 403:
                got.append("403")
                continue
            assert resp.status == 200, await resp.text()
            got.append(" ".join(names[r[key]] for r in await resp.json()))
        assert tuple(got) == expected, caller


FILTERS = [
    # (caller, a filtered list that must come back empty: the rows are another unit's)
    ("operator", "/api/v1/units?parent_id={D2}"),
    ("operator", "/api/v1/units?q=dong"),
    ("chair", "/api/v1/units?kind=province"),
    ("delegate", "/api/v1/units?kind=district"),
    ("bp1", "/api/v1/units?q=hoang%20chau"),
    ("operator", "/api/v1/bridge-points?unit_id={C3}"),
    ("chair", "/api/v1/bridge-points?q=bp3"),
    ("operator", "/api/v1/users?q=bui"),
    ("secretary", "/api/v1/users?role=operator&q=vo"),
    ("chair_d2", "/api/v1/meetings?state=draft&limit=1&offset=1"),
    ("delegate_other", "/api/v1/meetings?state=draft&offset=1"),
]


async def test_filters_do_not_reach_past_the_callers_units(
    client: Any, both: Both, subtests: Any
) -> None:
    for caller, query in FILTERS:
        with subtests.test(f"{caller} {query}"):
            resp = await client.get(query.format(**both.w.units), headers=both.w.auth(caller))
            assert resp.status == 200, await resp.text()
            assert await resp.json() == []
