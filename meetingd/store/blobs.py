"""Document bytes: content-addressed by the original's sha256, never altered once stored.

An original is written to a temporary file (streamed, hashed as it arrives), fsynced and
renamed into place under its hash; a second upload of the same bytes finds it there. Files
derived from it (the sanitised copy, the converted PDF of an office document, thumbnails,
per-viewer watermarked copies) live beside it under ``<sha256>.d/`` and can be rebuilt from
the original at any time, so deleting them is always safe.

:class:`BlobStore` is the interface the documents service uses; :class:`LocalBlobStore`
(a directory in the data dir) is the embedded default. An S3-compatible store implements
the same methods: ``put_original`` uploads the finished temp file under the key
``sha256/<hash>`` (``If-None-Match: *``, so an original is never overwritten) and
``path_of`` returns a local cache file, fetched on a miss, so the server can still answer
range requests with ``sendfile``; derived files go under ``sha256/<hash>.d/<name>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from meetingd.errors import PayloadTooLarge

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DERIVED_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
#: Bytes hashed and written per step of a streamed upload.
CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Staged:
    """A finished temporary file: its path, sha256 and size (nothing else has seen it)."""

    path: Path
    sha256: str
    size: int


class BlobStore(Protocol):
    """Where document bytes live. Paths it answers are local files the server may send."""

    def scratch(self) -> Path:
        """A fresh private directory for a piece of work (upload, conversion); the caller
        removes it (:func:`remove_tree`)."""

    async def stage(self, chunks: AsyncIterator[bytes], max_bytes: int) -> Staged:
        """Write ``chunks`` to a temporary file, hashing as they arrive; refuse (and remove
        the partial file) once more than ``max_bytes`` have come."""

    async def stage_path(self, path: Path) -> Staged:
        """Copy a local file (a conversion's output) to a temporary file, hashed."""

    async def put_original(self, staged: Staged) -> Path:
        """Make ``staged`` the original for its hash (fsync, rename); kept if present."""

    def path_of(self, sha256: str) -> Path | None:
        """The original's local file, or None when it is not stored."""

    def derived(self, sha256: str, name: str) -> Path:
        """Where the derived file ``name`` of an original lives (it may not exist yet)."""

    async def put_derived(self, sha256: str, name: str, tmp: Path) -> Path:
        """Move ``tmp`` into place as a derived file (fsync, rename: readers never see half)."""


def check_hash(sha256: str) -> str:
    if not _HEX64.match(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return sha256


class LocalBlobStore:
    """The embedded default: ``<root>/<aa>/<sha256>`` and ``<root>/<aa>/<sha256>.d/<name>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True, mode=0o700)

    def scratch(self) -> Path:
        path = self._tmp / f"work-{secrets.token_hex(8)}"
        path.mkdir(mode=0o700)
        return path

    async def stage(self, chunks: AsyncIterator[bytes], max_bytes: int) -> Staged:
        path = self._tmp / f"upload-{secrets.token_hex(8)}"
        digest = hashlib.sha256()
        size = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(
                            f"the file is larger than the limit of {max_bytes} bytes",
                            code="document_too_large",
                        )
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Staged(path, digest.hexdigest(), size)

    async def stage_path(self, path: Path) -> Staged:
        def copy() -> Staged:
            tmp = self._tmp / f"upload-{secrets.token_hex(8)}"
            digest = hashlib.sha256()
            size = 0
            with open(path, "rb") as src, open(tmp, "xb") as dst:
                while block := src.read(CHUNK):
                    digest.update(block)
                    size += len(block)
                    dst.write(block)
            return Staged(tmp, digest.hexdigest(), size)

        return await asyncio.to_thread(copy)

    def _original(self, sha256: str) -> Path:
        check_hash(sha256)
        return self.root / sha256[:2] / sha256

    async def put_original(self, staged: Staged) -> Path:
        return await asyncio.to_thread(self._put, staged.path, self._original(staged.sha256))

    def _put(self, tmp: Path, final: Path) -> Path:
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            tmp.unlink(missing_ok=True)  # the same bytes are stored already
            return final
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o400)  # an original is never altered
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return final

    def path_of(self, sha256: str) -> Path | None:
        path = self._original(sha256)
        return path if path.is_file() else None

    def derived(self, sha256: str, name: str) -> Path:
        if not _DERIVED_NAME.match(name) or name.startswith("."):
            raise ValueError(f"not a derived file name: {name!r}")
        return self._original(sha256).with_name(f"{sha256}.d") / name

    async def put_derived(self, sha256: str, name: str, tmp: Path) -> Path:
        final = self.derived(sha256, name)

        def put() -> Path:
            final.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            return final

        return await asyncio.to_thread(put)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Remove a scratch directory and everything in it (quietly: it is ours)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
