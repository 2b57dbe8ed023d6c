"""The reading port in a process of its own: readers' range requests are answered outside
the server's event loop, so a storm of pdf.js ranges neither delays the presenter's page
turns nor waits behind them.

``meetingd serve`` (``documents.read_process = true``, the default) binds the reading port
itself, then starts ``python -m meetingd.api.reading_process`` with the listening socket,
the read end of a pipe and a small shared memory (a memfd), and hands it the grant key and
the blob directory on its stdin. The child runs the same :class:`ReadingServer` over its own
:class:`GrantReader` (with uvloop when it is installed); it touches no database.

**Revocations stay immediate.** Every removal of rights the server hears
(:meth:`DocumentService.revoke_grants`) is written to the pipe as one line, and only then
is the count of lines written, in the shared memory, raised. Before checking a grant the
child compares that count with the lines it has applied and reads the pipe until it has
caught up: a range request that reaches the child after the server's ``revoke_grants``
returned is checked against that removal. A child that cannot be told (its pipe full) is
killed; a new child is first sent every removal still in force.

**Lifetime.** The listening socket stays in the server, so a child that dies is replaced (a
second later) without the port closing; the child exits when the pipe's write end closes
(the server stopped or died). Its figures (connections, answers by status, bytes) are
copied into the shared memory twice a second and shown by the server's ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import mmap
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from meetingd.documents.reader import GrantReader, GrantRefused, Readable

logger = logging.getLogger(__name__)

#: Statuses whose answers are counted in the shared memory, in this order.
STATUSES = (200, 204, 206, 304, 400, 403, 404, 405, 412, 413, 416, 431, 500, 503)
_SHM_BYTES = 4096
_WRITTEN = 0  # lines of removals the server has written to the pipe (the server)
_CONNECTIONS = 8  # connections open (the child)
_BODY_BYTES = 16  # body bytes sent (the child)
_ANSWERS = 24  # answers per status of STATUSES (the child)
#: The pipe's size: removals heard in one burst the child has not read yet (~20,000 keys).
_PIPE_BYTES = 1 << 20
#: A removal's line stays within one atomic pipe write.
_MAX_LINE = select.PIPE_BUF
#: Seconds a child is given to catch up with the pipe before a grant is refused.
_CATCH_UP_SECONDS = 2.0


def _u64(shm: mmap.mmap, at: int) -> int:
    value: int = struct.unpack_from("Q", shm, at)[0]
    return value


def _lines(keys: list[str], at_ms: int) -> Iterable[bytes]:
    """``keys`` removed at ``at_ms`` as lines of at most :data:`_MAX_LINE` bytes."""
    chunk: list[str] = []
    size = 0
    for k in keys:
        n = len(k.encode()) + 4
        if chunk and size + n > _MAX_LINE - 64:
            yield json.dumps([at_ms, chunk]).encode() + b"\n"
            chunk, size = [], 0
        chunk.append(k[:512])
        size += n
    if chunk:
        yield json.dumps([at_ms, chunk]).encode() + b"\n"


class ReadingProcess:
    """The server's side: starts, tells and replaces the child serving ``sock``."""

    def __init__(
        self,
        sock: socket.socket,
        reader: GrantReader,
        settings: dict[str, Any],
        *,
        respawn_after: float = 1.0,
    ) -> None:
        self.sock = sock
        self._reader = reader
        self._settings = settings
        self._respawn_after = respawn_after
        self._memfd = os.memfd_create("meetingd-reading", os.MFD_CLOEXEC)
        os.ftruncate(self._memfd, _SHM_BYTES)
        self.shm = mmap.mmap(self._memfd, _SHM_BYTES)
        self._pipe_w = -1
        self._written = 0
        self.proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._closing = False
        #: Children started (the first, and each replacement).
        self.started = 0

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    async def start(self) -> None:
        await self._spawn()
        self._watch = asyncio.create_task(self._watch_child(), name="reading-process")

    async def _spawn(self) -> None:
        r, w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(w, False)
        with contextlib.suppress(OSError):  # room for a burst of removals (Linux: 1 MiB)
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        old_w, self._pipe_w = self._pipe_w, w
        if old_w >= 0:
            os.close(old_w)
        self._written = 0
        struct.pack_into("Q", self.shm, _WRITTEN, 0)
        # every removal still in force goes with the settings (the pipe holds 64 KiB, the
        # table up to MAX_REVOCATIONS keys): applied before the child serves anything, and
        # removals heard from now on go to the new pipe, applied after it
        fds = (self.sock.fileno(), r, self._memfd)
        settings = {
            **self._settings,
            "fds": list(fds),
            "revoked": self._reader.revocations.items(),
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "meetingd.api.reading_process",
            stdin=asyncio.subprocess.PIPE,
            pass_fds=fds,
        )
        os.close(r)
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(settings).encode())
        await self.proc.stdin.drain()
        self.proc.stdin.close()
        self.started += 1
        logger.info("documents' reading process %s serves the reading port", self.proc.pid)

    async def _watch_child(self) -> None:
        while not self._closing:
            assert self.proc is not None
            code = await self.proc.wait()
            if self._closing:
                return
            logger.error("documents' reading process %s ended (%s); starting another in %.0f s",
                         self.proc.pid, code, self._respawn_after)  # fmt: skip
            await asyncio.sleep(self._respawn_after)
            if not self._closing:
                await self._spawn()

    def revoked(self, keys: list[str], at_ms: int) -> None:
        """A removal heard by the server: told to the child before this returns."""
        self._write(list(_lines(keys, at_ms)))

    def _write(self, lines: list[bytes]) -> None:
        for line in lines:
            try:
                os.write(self._pipe_w, line)
            except BlockingIOError:
                # the child does not read its removals: it may not serve another range
                logger.error("documents' reading process %s does not keep up with removals "
                             "of rights: stopping it", self.pid)  # fmt: skip
                if self.proc is not None and self.proc.returncode is None:
                    self.proc.kill()
                return
            except OSError:
                return  # no child now (it is being replaced): it gets the table at start
            self._written += 1
            struct.pack_into("Q", self.shm, _WRITTEN, self._written)

    def figures(self) -> tuple[int, dict[int, int], int]:
        """The child's connections, answers by status and body bytes (``/metrics``)."""
        answers = {s: _u64(self.shm, _ANSWERS + 8 * i) for i, s in enumerate(STATUSES)}
        return (
            _u64(self.shm, _CONNECTIONS),
            {s: n for s, n in answers.items() if n},
            _u64(self.shm, _BODY_BYTES),
        )

    async def close(self) -> None:
        self._closing = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._pipe_w >= 0:
            os.close(self._pipe_w)  # the child's cue to stop
            self._pipe_w = -1
        if self.proc is not None and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.sock.close()
        self.shm.close()
        os.close(self._memfd)


# -- the child ------------------------------------------------------------------------


class _ToldReader(GrantReader):
    """A :class:`GrantReader` that reads the server's removals from the pipe, and catches
    up with them before every check."""

    def __init__(self, key: bytes, root: Path, pipe: int, shm: mmap.mmap) -> None:
        from meetingd.store.blobs import LocalBlobStore

        super().__init__(key, LocalBlobStore(root), lambda: int(time.time() * 1000))
        self._pipe = pipe
        self._shm = shm
        self._applied = 0
        self._buf = b""
        self.closed = asyncio.Event()

    def readable(self, grant: str, meeting_id: int, document_id: int) -> Readable:
        if _u64(self._shm, _WRITTEN) > self._applied:
            self.catch_up()
        return super().readable(grant, meeting_id, document_id)

    def catch_up(self) -> None:
        """Read the pipe until every removal the server counted is applied."""
        want = _u64(self._shm, _WRITTEN)
        deadline = time.monotonic() + _CATCH_UP_SECONDS
        while self._applied < want:
            if not self.drain():
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._pipe], [], [], left)[0]:
                    raise GrantRefused("the reading process has not heard the latest removals")

    def drain(self) -> bool:
        """Apply what the pipe holds now; False if it held nothing."""
        try:
            data = os.read(self._pipe, 1 << 16)
        except BlockingIOError:
            return False
        if not data:  # the server closed its end: it stopped
            self.closed.set()
            return False
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            at_ms, keys = json.loads(line)
            self.revoke(keys, at_ms)
            self._applied += 1
        return True


async def _child(settings: dict[str, Any]) -> None:
    from meetingd.api.reading import Limits, ReadingServer

    sock_fd, pipe, memfd = settings["fds"]
    os.set_blocking(pipe, False)
    shm = mmap.mmap(memfd, _SHM_BYTES)
    reader = _ToldReader(bytes.fromhex(settings["key"]), Path(settings["blobs"]), pipe, shm)
    for key, at_ms in settings["revoked"]:
        reader.revoke([key], at_ms)
    loop = asyncio.get_running_loop()
    loop.add_reader(pipe, reader.drain)
    server = ReadingServer(
        reader, origins=tuple(settings["origins"]), limits=Limits(**settings["limits"])
    )
    sock = socket.socket(fileno=sock_fd)
    await server.start_on(sock)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, reader.closed.set)

    async def publish() -> None:
        while True:
            connections, answered, body_bytes = server.figures()
            struct.pack_into("Q", shm, _CONNECTIONS, connections)
            struct.pack_into("Q", shm, _BODY_BYTES, body_bytes)
            for i, s in enumerate(STATUSES):
                struct.pack_into("Q", shm, _ANSWERS + 8 * i, answered.get(s, 0))
            await asyncio.sleep(0.5)

    figures = asyncio.create_task(publish())
    try:
        await reader.closed.wait()
    finally:
        figures.cancel()
        await server.close()
        reader.close()


def main() -> None:
    settings = json.loads(sys.stdin.buffer.read())
    from meetingd.logs import setup_logging

    setup_logging(settings.get("log_level", "INFO"))
    try:
        import uvloop
    except ImportError:
        runner: Any = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(_child(settings))
    except OSError as exc:
        if exc.errno != errno.EBADF:
            raise


def child_settings(
    key: bytes, blobs: Path, origins: tuple[str, ...], limits: dict[str, Any], log_level: str
) -> dict[str, Any]:
    return {
        "key": key.hex(),
        "blobs": str(blobs),
        "origins": list(origins),
        "limits": limits,
        "log_level": log_level,
    }


if __name__ == "__main__":
    main()
