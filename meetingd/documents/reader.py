"""What a range request under a reading grant is checked against and read from, with no
database: the grant key, the revocations heard, the grants already verified and the open
descriptors of the served blobs.

The server's :class:`~meetingd.services.documents.DocumentService` keeps one (it issues the
grants and hears the revocations), and so does the reading process
(:mod:`meetingd.api.reading_process`), which serves the reading port outside the server's
event loop and is told every revocation before the server goes on.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meetingd.documents import grants
from meetingd.documents.domain import sniff_media_type
from meetingd.errors import MeetingdError, NotFound

if TYPE_CHECKING:
    from meetingd.store.blobs import BlobStore

logger = logging.getLogger(__name__)

#: How long a reading grant holds, in seconds (the reader asks for a new one after).
GRANT_TTL_SECONDS = 600
#: Open descriptors of served blobs kept per process (the least recently read is closed).
MAX_OPEN_BLOBS = 256
#: Verified grants remembered per process (the oldest is checked again when it returns).
MAX_VERIFIED = 20_000


class GrantRefused(MeetingdError):
    """A reading grant that is malformed, forged, expired, for another document, or
    withdrawn: the reader opens the document again (``document.open``)."""

    status = 403
    code = "grant_refused"


@dataclass(frozen=True)
class Readable:
    """What a range request under a valid grant is answered from. ``fd`` is an open
    descriptor of an immutable blob, shared by every reader of it in this process."""

    fd: int
    size: int
    etag: str
    private: bool
    #: what the file is (``application/pdf``, or a recording's ``video/...``)
    media_type: str = "application/pdf"


class GrantReader:
    """Checks grants (signature, document, expiry, revocations) and opens what they name.

    ``blobs`` holds what grants name (``<sha256>`` or ``<sha256>/<derived name>``);
    ``clock_ms`` is the time grants and removals are compared by."""

    def __init__(self, key: bytes, blobs: BlobStore, clock_ms: Callable[[], int]) -> None:
        self._key = key
        self._blobs = blobs
        self.clock_ms = clock_ms
        #: When rights were last removed, per key: read by every range request under a grant.
        self.revocations = grants.Revocations(GRANT_TTL_SECONDS)
        #: Grants whose signature was checked, by their text: a reader's next ranges skip the
        #: HMAC (expiry and revocations are still checked on every request).
        self._verified: OrderedDict[str, grants.Grant] = OrderedDict()
        self._open: OrderedDict[str, tuple[int, int, str]] = OrderedDict()

    @property
    def key(self) -> bytes:
        """The key grants are signed with (handed to a reading process)."""
        return self._key

    def sign(self, g: grants.Grant) -> str:
        return grants.sign(self._key, g)

    def readable(self, grant: str, meeting_id: int, document_id: int) -> Readable:
        """The file a range request under ``grant`` reads. Raises :class:`GrantRefused`."""
        g = self._verified.get(grant)
        if g is None:
            try:
                g = grants.parse(self._key, grant)
            except grants.GrantRefused as exc:
                raise GrantRefused(f"the reading grant is not valid ({exc.reason})") from None
            self._verified[grant] = g
            while len(self._verified) > MAX_VERIFIED:
                self._verified.popitem(last=False)
        if g.meeting_id != meeting_id or g.document_id != document_id:
            raise GrantRefused("the reading grant is for another document")
        if g.expires * 1000 <= self.clock_ms():
            raise GrantRefused("the reading grant has expired")
        withdrawn = self.revocations.withdrawn(g)
        if withdrawn is not None:
            logger.info("reading grant of %s for document %s withdrawn by %s",
                        g.subject, g.document_id, withdrawn)  # fmt: skip
            raise GrantRefused("the reading grant was withdrawn")
        fd, size, media_type = self._fd(g.blob)
        return Readable(
            fd=fd, size=size, etag=f'"{g.blob[-32:]}"', private=g.private, media_type=media_type
        )

    def revoke(self, keys: Iterable[str], at_ms: int) -> None:
        """Grants issued to ``keys`` at or before ``at_ms`` stop working."""
        self.revocations.revoke(keys, at_ms)

    def _fd(self, blob: str) -> tuple[int, int, str]:
        """An open descriptor, the size and the type of a served blob, opened once per
        process: the blobs are content-addressed and never altered, so a descriptor (and
        what its first bytes say it is) stays right."""
        got = self._open.get(blob)
        if got is not None:
            self._open.move_to_end(blob)
            return got
        sha, _, derived = blob.partition("/")
        try:
            path = self._blobs.derived(sha, derived) if derived else self._blobs.path_of(sha)
            if path is None:
                raise FileNotFoundError(blob)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            raise NotFound("the document's file is missing from the store") from None
        got = (fd, os.fstat(fd).st_size, sniff_media_type(os.pread(fd, 16, 0)))
        self._open[blob] = got
        while len(self._open) > MAX_OPEN_BLOBS:
            _, (old, _, _) = self._open.popitem(last=False)
            os.close(old)
        return got

    def close(self) -> None:
        while self._open:
            _, (fd, _, _) = self._open.popitem()
            os.close(fd)
