"""Reading grants: a short-lived signed right to read one served file of one document.

pdf.js reads a document in many range requests (64 KiB each, a few hundred for a large
file). Authenticating and authorising each of them costs several database queries; a grant
moves that work to the opening: the caller is authorised once (``document.open``) and gets a
grant naming the viewer, the token it was issued under, the meeting, the document, the file
served (its place in the blob store: the sanitised copy, the original, or the viewer's own
watermarked copy) and an expiry, signed with a key derived from the server's signing key.
Each range request then checks the signature, the expiry and the revocations below, and
touches no database.

A grant must stop working the moment the viewer's right is removed. Every process keeps
:class:`Revocations`: for each key (``user:5``, ``bridge_point:3``, ``token:<jti>``,
``document:7``, ``meeting:2``, ``meeting:2/user:5``) the time its last removal was heard. A
grant issued at or before that time is refused. The keys are fed by the same signal that
closes sockets (``UnitOfWork.rights_changed``, the Redis bus's rights messages) and by the
committed events that change who sees a document (unpublished, updated, removed,
uninvitations, a changed meeting), heard on every process. A grant issued after the removal
was authorised against the database after it, so it is sound; a refused grant costs the
reader one new ``document.open``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Version prefix of the grant format (a change of fields changes it).
VERSION = "g1"
#: What the grant key is derived for (the signing key signs tokens too; a grant is not one).
_PURPOSE = b"meetingd reading grant v1"
_MAC_BYTES = 32
#: A blob's place: a sha256, and for a derived file its name (``sanitised.pdf``, ``wm-...``).
_BLOB = re.compile(r"^[0-9a-f]{64}(/[A-Za-z0-9._-]{1,80})?$")
_SUBJECT = re.compile(r"^(user|bridge_point):[0-9]{1,10}$")
MAX_GRANT_CHARS = 1024
#: Removals remembered before the oldest ones that no live grant can predate are forgotten.
MAX_REVOCATIONS = 50_000


class GrantRefused(Exception):
    """The grant does not (or no longer) entitle its bearer to the file; ``reason`` says
    which check failed (for the log and the tests: the client is told only that it must
    open the document again)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Grant:
    """What a grant entitles: ``subject`` (under token ``token_id``) reads ``blob`` as
    document ``document_id`` of meeting ``meeting_id`` until ``expires`` (epoch seconds).
    ``issued_ms`` orders it against removals; ``private`` marks a viewer's own copy or a
    view-only document (never stored by a cache)."""

    subject: str
    token_id: str
    meeting_id: int
    document_id: int
    blob: str
    expires: int
    issued_ms: int
    private: bool

    def keys(self) -> tuple[str, ...]:
        """The revocation keys any of which withdraws this grant."""
        return (
            self.subject,
            f"token:{self.token_id}",
            f"document:{self.document_id}",
            f"meeting:{self.meeting_id}",
            f"meeting:{self.meeting_id}/{self.subject}",
        )


def grant_key(signing_key: str) -> bytes:
    """The key grants are signed with, derived from the server's signing key (every process
    of a deployment shares it, so a grant issued by one is read by any)."""
    return hmac.new(signing_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, g: Grant) -> str:
    """The grant as URL-safe text: its fields, then their HMAC-SHA256."""
    body = "|".join(
        [
            VERSION,
            g.subject,
            g.token_id,
            str(g.meeting_id),
            str(g.document_id),
            g.blob,
            str(g.expires),
            str(g.issued_ms),
            "p" if g.private else "s",
        ]
    ).encode()
    mac = hmac.new(key, body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def parse(key: bytes, text: str) -> Grant:
    """The grant ``text`` carries, if its signature holds (expiry and revocation are the
    caller's to check, against its clock and its :class:`Revocations`)."""
    if not text or len(text) > MAX_GRANT_CHARS or text.count(".") != 1:
        raise GrantRefused("malformed")
    body_text, mac_text = text.split(".")
    try:
        body = _unb64(body_text)
        mac = _unb64(mac_text)
    except (ValueError, TypeError):
        raise GrantRefused("malformed") from None
    want = hmac.new(key, body, hashlib.sha256).digest()
    if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, want):
        raise GrantRefused("signature")
    parts = body.decode("ascii", "replace").split("|")
    if len(parts) != 9 or parts[0] != VERSION:
        raise GrantRefused("version")
    _, subject, token_id, mid, did, blob, exp, issued, private = parts
    if not (
        _SUBJECT.match(subject)
        and mid.isdigit()
        and did.isdigit()
        and exp.isdigit()
        and issued.isdigit()
        and _BLOB.match(blob)
        and private in ("p", "s")
    ):
        raise GrantRefused("malformed")
    return Grant(
        subject=subject,
        token_id=token_id,
        meeting_id=int(mid),
        document_id=int(did),
        blob=blob,
        expires=int(exp),
        issued_ms=int(issued),
        private=private == "p",
    )


class Revocations:
    """When each key last lost a right, as heard by this process (epoch milliseconds).

    Read on every range request (a few dictionary lookups), written when a removal is heard.
    Entries older than the longest grant lifetime can no longer refuse anything live and are
    dropped when the table grows past :data:`MAX_REVOCATIONS`.
    """

    def __init__(self, ttl_seconds: int) -> None:
        self._ttl_ms = ttl_seconds * 1000
        self._at: dict[str, int] = {}

    def revoke(self, keys: Iterable[str], now_ms: int) -> None:
        for k in keys:
            self._at[k] = now_ms
        if len(self._at) > MAX_REVOCATIONS:
            horizon = now_ms - self._ttl_ms - 1000
            self._at = {k: t for k, t in self._at.items() if t >= horizon}

    def withdrawn(self, g: Grant) -> str | None:
        """The key that withdrew ``g``, or None while it stands."""
        at = self._at
        if not at:
            return None
        for k in g.keys():
            t = at.get(k)
            if t is not None and t >= g.issued_ms:
                return k
        return None

    def items(self) -> list[tuple[str, int]]:
        """Every removal remembered: (key, epoch milliseconds)."""
        return list(self._at.items())

    def __len__(self) -> int:
        return len(self._at)
