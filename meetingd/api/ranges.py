"""What a read of a served file answers: the status and the span of bytes, from the request's
method and its Range and precondition headers.

One function for both ways the bytes are served (the app's ``GET …/read`` route and the
reading port of :mod:`meetingd.api.reading`), so the two cannot differ: ``If-Match`` that
names another entity tag answers 412, ``If-None-Match`` that names this one 304, a single
``Range: bytes=…`` 206 unless an ``If-Range`` names another tag (then the whole file, 200), a
range that cannot be satisfied (past the end, malformed, several ranges) 416, and ``HEAD``
the same headers without a body.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: One byte range as aiohttp's ``Request.http_range`` reads it (RFC 9110 §14.1.2).
_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII | re.IGNORECASE)
#: More digits than any file's offset has (a 16 EB file): int() of more is not attempted.
_MAX_DIGITS = 19


class Answer(NamedTuple):
    """``status`` with ``body_bytes`` bytes from ``start`` (0 for 304, 412, 416 and ``HEAD``'s
    body); ``length`` is the Content-Length to send (the span's, for ``HEAD`` too);
    ``content_range`` the Content-Range header, if any."""

    status: int
    start: int
    body_bytes: int
    length: int
    content_range: str | None


def etag_in(etag: str, header: str) -> bool:
    """Whether ``header`` (If-Match / If-None-Match) names ``etag`` or ``*``."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, count) of a single ``Range: bytes=...`` within ``size``, or None when it
    cannot be satisfied (answered 416): malformed, several ranges, starting past the end,
    or a suffix of zero bytes."""
    m = _RANGE.fullmatch(header)
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS:
        return None
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0:
            return None
        start, stop = max(0, size - suffix), size
    else:
        start = int(first)
        stop = size if not last else int(last) + 1
        if last and start >= stop:
            return None
        stop = min(stop, size)
    if start >= size or stop <= start:
        return None
    return start, stop - start


def answer(
    size: int,
    etag: str,
    *,
    head: bool,
    range_: str | None,
    if_range: str | None,
    if_match: str | None,
    if_none_match: str | None,
) -> Answer:
    """The answer to a read of a file of ``size`` bytes whose entity tag is ``etag``."""
    if if_match is not None and not etag_in(etag, if_match):
        return Answer(412, 0, 0, 0, None)
    if if_none_match is not None and etag_in(etag, if_none_match):
        return Answer(304, 0, 0, 0, None)
    if range_ is not None and (if_range is None or if_range.strip() == etag):
        span = byte_range(range_, size)
        if span is None:
            return Answer(416, 0, 0, 0, f"bytes */{size}")
        start, count = span
        return Answer(
            206,
            start,
            0 if head else count,
            count,
            f"bytes {start}-{start + count - 1}/{size}",
        )
    return Answer(200, 0, 0 if head else size, size, None)
