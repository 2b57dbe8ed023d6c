"""Guard: the aiortc/aioice internals media/_aiortc_private.py relies on are still there."""

from __future__ import annotations

import ast
import importlib.metadata
import pathlib
import socket
from typing import Any

import aioice.ice
import pytest

import media
from media import MediaConfig, MediaPlane, PrivateApiError
from media import _aiortc_private as private

MEDIA_DIR = pathlib.Path(media.__file__).parent


async def test_internals_are_as_expected() -> None:
    await private.check_internals()


def test_pinned_versions_are_installed() -> None:
    for dist, version in private.PINNED_VERSIONS.items():
        assert importlib.metadata.version(dist) == version


def test_other_versions_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda d: "9.9.9" if d == "aiortc" else real(d)
    )
    with pytest.raises(PrivateApiError, match=r"aiortc==1\.16\.0 but 9\.9\.9"):
        private._check_versions()


def test_host_addresses_are_restricted_while_a_lease_is_held() -> None:
    installed, holders = private.host_address_patch()
    original = aioice.ice.get_host_addresses
    assert not installed and holders == 0, "a plane or agent of an earlier test was left open"
    lease = private.restrict_host_addresses(["127.0.0.1", "::1"])
    try:
        assert private.host_address_patch() == (True, 1)
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
        # a second holder: one patch, the union of the addresses, in the order asked for
        other = private.restrict_host_addresses(["10.0.0.7", "127.0.0.1"])
        assert private.host_address_patch() == (True, 2)
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1", "10.0.0.7"]
        other.release()
        other.release()  # idempotent: the count goes down once
        assert private.host_address_patch() == (True, 1)
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
    finally:
        lease.release()
    assert private.host_address_patch() == (False, 0)
    assert aioice.ice.get_host_addresses is original  # aioice's own function is back


def test_a_wrapper_installed_over_ours_is_left_alone() -> None:
    original = aioice.ice.get_host_addresses
    lease = private.restrict_host_addresses(["127.0.0.1"])
    ours = aioice.ice.get_host_addresses
    calls: list[bool] = []

    def theirs(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        calls.append(use_ipv4)
        return list(ours(use_ipv4, use_ipv6))

    aioice.ice.get_host_addresses = theirs
    try:
        lease.release()
        assert aioice.ice.get_host_addresses is theirs  # not torn out from under them
        assert "127.0.0.1" not in theirs(True, False)  # ours passes through to aioice's
        assert calls == [True]
        again = private.restrict_host_addresses(["127.0.0.1"])  # still in their chain
        assert theirs(True, False) == ["127.0.0.1"]
    finally:
        aioice.ice.get_host_addresses = ours  # they unwrap...
    again.release()  # ...and the last lease removes ours
    assert aioice.ice.get_host_addresses is original


async def test_a_media_plane_holds_the_patch_from_start_to_close() -> None:
    assert private.host_address_patch() == (False, 0)
    first = MediaPlane(MediaConfig(listen_ips=("127.0.0.1",)))
    assert private.host_address_patch() == (False, 0)  # constructing patches nothing
    async with first:
        assert first.started and private.host_address_patch() == (True, 1)
        first.start()  # idempotent
        second = MediaPlane(MediaConfig(listen_ips=("127.0.0.1",)))
        second.create_room("r")  # the first room starts a plane nobody started
        assert private.host_address_patch() == (True, 2)
        await second.close()
        await second.close()
        assert private.host_address_patch() == (True, 1)
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
    assert not first.started
    assert private.host_address_patch() == (False, 0)


async def test_an_agent_holds_the_patch_while_it_runs() -> None:
    import asyncio

    from media.agent import AgentConfig, BridgePointAgent

    class NeverConnects:
        async def connect(self) -> None:
            await asyncio.Event().wait()

        async def close(self) -> None:
            return None

    stop = asyncio.Event()
    agent = BridgePointAgent(NeverConnects(), AgentConfig(local_ips=("127.0.0.1",)))  # type: ignore[arg-type]
    assert private.host_address_patch() == (False, 0)
    task = asyncio.ensure_future(agent.run(stop))
    await asyncio.sleep(0)
    assert private.host_address_patch() == (True, 1)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert private.host_address_patch() == (False, 0)


def test_no_other_module_touches_private_members() -> None:
    """Only _aiortc_private.py may use aiortc/aioice underscore members or aioice at all."""
    offenders = []
    for path in MEDIA_DIR.glob("*.py"):
        if path.name == "_aiortc_private.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                ("aioice", "pylibsrtp")
            ):
                offenders.append(f"{path.name}: imports {node.module}")
            if isinstance(node, ast.Import):
                offenders += [
                    f"{path.name}: imports {a.name}"
                    for a in node.names
                    if a.name.startswith(("aioice", "pylibsrtp"))
                ]
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "aiortc"
            ):
                offenders += [
                    f"{path.name}: imports {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_")
                ]
    assert offenders == []


def test_media_never_imports_meetingd() -> None:
    for path in MEDIA_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "meetingd" for a in node.names), path
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "meetingd", path


class _FullSocket(socket.socket):
    """A UDP socket whose kernel buffer is always full (what a never-reading peer causes)."""

    def sendto(self, *args: object) -> int:  # type: ignore[override]
        raise BlockingIOError

    def send(self, *args: object) -> int:  # type: ignore[override]
        raise BlockingIOError  # the media socket is connected to its peer: send, not sendto


def test_a_full_socket_drops_instead_of_blocking_or_queueing() -> None:
    import os
    from types import SimpleNamespace

    from aiortc.rtcdtlstransport import State
    from pylibsrtp import Policy, Session

    sock = _FullSocket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        transport = SimpleNamespace(_sock=sock)
        pair = SimpleNamespace(protocol=SimpleNamespace(transport=transport),
                               remote_addr=("127.0.0.1", 9))
        dtls = SimpleNamespace(
            _state=State.CONNECTED,
            _tx_srtp=Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND)),
            transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
        )
        io = private.TransportIO(dtls, max_send_buffer=1024)
        packet = bytes([0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]) + b"x" * 1000
        assert io.send_rtp(packet) is False and io.dropped == 1
        # a transport without a raw socket (a TURN relay) is dropped on its buffer size
        queued = SimpleNamespace(sendto=lambda *a: None, get_write_buffer_size=lambda: 4096)
        pair.protocol.transport = queued
        io2 = private.TransportIO(dtls, max_send_buffer=1024)
        packet = packet[:3] + b"\x02" + packet[4:]  # the next sequence number
        assert io2.send_rtp(packet) is False and io2.dropped == 1
    finally:
        sock.close()


def test_the_nominated_pair_socket_gets_larger_buffers() -> None:
    import os
    from types import SimpleNamespace

    from aiortc.rtcdtlstransport import State
    from pylibsrtp import Policy, Session

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sink.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        small = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        pair = SimpleNamespace(protocol=SimpleNamespace(transport=SimpleNamespace(_sock=sock)),
                               remote_addr=sink.getsockname())
        dtls = SimpleNamespace(
            _state=State.CONNECTED,
            _tx_srtp=Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND)),
            transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
        )
        io = private.TransportIO(dtls, max_send_buffer=1024, socket_buffer=512 * 1024)
        assert io.send_rtp(bytes([0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]) + b"x" * 100)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) > small
    finally:
        sock.close()
        sink.close()


def test_the_media_socket_is_connected_to_the_selected_peer() -> None:
    """Packets leave with ``send`` on a socket connected to the pair ICE selected."""
    import os
    from types import SimpleNamespace

    from aiortc.rtcdtlstransport import State
    from pylibsrtp import Policy, Session

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sinks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for s in sinks:
            s.bind(("127.0.0.1", 0))
            s.settimeout(2)
        sock.bind(("127.0.0.1", 0))
        pair = SimpleNamespace(protocol=SimpleNamespace(transport=SimpleNamespace(_sock=sock)),
                               remote_addr=sinks[0].getsockname())
        nominated = {1: pair}
        dtls = SimpleNamespace(
            _state=State.CONNECTED,
            _tx_srtp=Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND)),
            transport=SimpleNamespace(_connection=SimpleNamespace(_nominated=nominated)),
        )
        io = private.TransportIO(dtls, max_send_buffer=1024)
        packet = bytes([0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]) + b"x" * 100
        assert io.send_rtp(packet)
        assert sock.getpeername() == sinks[0].getsockname()
        assert len(sinks[0].recv(2048)) > len(packet)  # protected: the auth tag added
        # ICE selects another pair: the socket follows it
        nominated[1] = SimpleNamespace(protocol=pair.protocol, remote_addr=sinks[1].getsockname())
        assert io.send_rtp(packet[:3] + b"\x02" + packet[4:])
        assert sock.getpeername() == sinks[1].getsockname()
        assert len(sinks[1].recv(2048)) > len(packet)
    finally:
        sock.close()
        for s in sinks:
            s.close()


def test_rtp_and_rtcp_datagrams_skip_the_stun_parse() -> None:
    """On the selected pair's socket RTP/RTCP go straight to the connection; STUN and DTLS
    still take aioice's own path."""
    from types import SimpleNamespace

    delivered: list[tuple[bytes, int]] = []
    through_aioice: list[bytes] = []
    connection = SimpleNamespace(
        data_received=lambda data, component: delivered.append((data, component)))
    protocol = SimpleNamespace(transport=SimpleNamespace(), receiver=connection,
                               local_candidate=SimpleNamespace(component=1))
    protocol.datagram_received = lambda data, addr: through_aioice.append(data)
    dtls = SimpleNamespace(transport=SimpleNamespace(_connection=connection))
    io = private.TransportIO(dtls, max_send_buffer=1024)
    peer = ("127.0.0.1", 40000)
    io._select(SimpleNamespace(protocol=protocol, remote_addr=peer))
    rtp = bytes([0x80, 96, 0, 1]) + bytes(20)
    rtcp = bytes([0x81, 201, 0, 1]) + bytes(4)
    stun = bytes([0x00, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42]) + bytes(12)
    dtls_record = bytes([22, 0xFE, 0xFD]) + bytes(10)
    for data in (rtp, stun, rtcp, dtls_record):
        protocol.datagram_received(data, peer)
    assert delivered == [(rtp, 1), (rtcp, 1)]
    assert through_aioice == [stun, dtls_record]


def test_the_fused_send_writes_what_build_and_send_would() -> None:
    """``send_rtp_parts`` (header, extensions and payload written into libsrtp's buffer,
    sent from it) puts on the wire exactly what ``send_rtp(build_rtp(...))`` does."""
    import os
    from types import SimpleNamespace

    from aiortc.rtcdtlstransport import State
    from pylibsrtp import Policy, Session

    from media.rtp import build_rtp, extension_block

    key = os.urandom(30)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(2)
        ios = []
        for sock in socks:
            pair = SimpleNamespace(
                protocol=SimpleNamespace(transport=SimpleNamespace(_sock=sock)),
                remote_addr=sink.getsockname(),
            )
            dtls = SimpleNamespace(
                _state=State.CONNECTED,
                _tx_srtp=Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND)),
                transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
            )
            ios.append(private.TransportIO(dtls, max_send_buffer=1024))
        built, fused = ios
        for seq, ext, marker in ((1, extension_block([(1, b"3"), (3, b"\x01\x02\x03")]), 1),
                                 (2, b"", 0)):  # fmt: skip
            payload = os.urandom(900)
            assert built.send_rtp(build_rtp(96, marker, seq, 4242, 77, ext, payload, 0))
            one = sink.recv(2048)
            sent = fused.send_rtp_parts((marker << 7) | 96, seq, 4242, 77, ext, payload)
            assert sent == 12 + len(ext) + len(payload)
            assert sink.recv(2048) == one
    finally:
        sink.close()
        for s in socks:
            s.close()


async def test_consent_waits_for_late_answers_and_expires_without_any(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server's consent checks (RFC 7675): an answer that comes late, or checks that
    miss now and then, keep the connection; none answered for the expiry closes it."""
    import asyncio
    from types import SimpleNamespace

    import aioice.ice
    import aioice.stun

    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.05)
    monkeypatch.setattr(private, "CONSENT_EXPIRY", 0.6)

    def connection(answer: Any) -> Any:
        calls: list[int] = []

        async def request(*args: Any, retransmissions: int | None = None, **kw: Any) -> Any:
            calls.append(retransmissions or 0)
            return await answer(len(calls))

        conn = SimpleNamespace(
            remote_password="pw", _query_consent_task=None, closed=False, calls=calls,
            _nominated={1: SimpleNamespace(protocol=SimpleNamespace(request=request),
                                           remote_addr=("127.0.0.1", 9))},
            build_request=lambda pair, nominate: object(),
        )  # fmt: skip

        async def close() -> None:
            conn.closed = True

        conn.close = close
        private.patient_consent(conn)
        conn._query_consent_task = asyncio.get_running_loop().create_task(conn.query_consent())
        return conn

    async def late(n: int) -> None:  # answered, 0.2 s late (aioice gave up after 0.5 s ...)
        await asyncio.sleep(0.2)

    async def flaky(n: int) -> None:  # two checks in three missed
        if n % 3:
            raise aioice.stun.TransactionError()

    async def gone(n: int) -> None:
        raise aioice.stun.TransactionError()

    kept_late, kept_flaky, dead = connection(late), connection(flaky), connection(gone)
    await asyncio.sleep(1.5)
    try:
        assert not kept_late.closed and not kept_flaky.closed
        assert dead.closed and dead._query_consent_task is None
        assert set(kept_late.calls) == {private.CONSENT_RETRANSMISSIONS}
    finally:
        for conn in (kept_late, kept_flaky):
            conn._query_consent_task.cancel()
