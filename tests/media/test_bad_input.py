"""Bad input gets a clear error or is dropped cleanly; the rest of the room carries on."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection, RTCRtpSender
from media_peers import ConnectFn, Peer, wait_for

from media import (
    ConflictError,
    MediaConfig,
    MediaPlane,
    NotFoundError,
    SignallingError,
    UnsupportedCodecError,
)


async def test_malformed_sdp_and_candidates(plane: MediaPlane) -> None:
    room = plane.create_room("r-bad")
    ep = room.add_endpoint("bp1", "bridge_point")
    for junk in ("", "hello", "v=0\r\nm=audio x\r\n", "v=0\r\nm=audio 9 RTP/SAVPF 96 300\r\n"):
        with pytest.raises(SignallingError) as err:
            await ep.handle_offer(junk)
        assert err.value.code == "bad_sdp"
    with pytest.raises(SignallingError) as err:
        await ep.add_ice_candidate("candidate:1 1 udp 1 127.0.0.1 9 typ host")
    assert err.value.code == "no_session"
    with pytest.raises(SignallingError) as err:
        await ep.handle_answer("v=0\r\n")
    assert err.value.code == "unexpected_answer"
    with pytest.raises(ConflictError):
        room.add_endpoint("bp1", "bridge_point")
    with pytest.raises(SignallingError):
        room.add_endpoint("x", "emperor")
    with pytest.raises(NotFoundError):
        plane.room("nope")
    with pytest.raises(SignallingError):
        room.set_video_page("bp1", 2)


async def test_bad_candidate_after_offer(plane: MediaPlane, join: ConnectFn) -> None:
    room = plane.create_room("r-cand")
    peer = await join(room, "bp1", "bridge_point", video=False)
    with pytest.raises(SignallingError) as err:
        await peer.endpoint.add_ice_candidate("candidate:garbage", "0", 0)
    assert err.value.code == "bad_candidate"
    await peer.endpoint.add_ice_candidate("", "0", 0)  # end of candidates is fine


async def test_offer_with_only_unsupported_codecs(plane: MediaPlane) -> None:
    room = plane.create_room("r-codec")
    ep = room.add_endpoint("bp1", "bridge_point")
    pc = RTCPeerConnection()
    try:
        t = pc.addTransceiver("audio", direction="sendonly")
        caps = RTCRtpSender.getCapabilities("audio").codecs
        pcmu = [c for c in caps if c.mimeType == "audio/PCMU"]
        t.setCodecPreferences(pcmu)
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(UnsupportedCodecError) as err:
            await ep.handle_offer(pc.localDescription.sdp)
        assert err.value.code == "unsupported_codecs"
        assert "PCMU" in err.value.message
    finally:
        await pc.close()


async def test_glare_is_refused_with_a_clear_code(plane: MediaPlane) -> None:
    room = plane.create_room("r-glare")
    offered = asyncio.Event()

    async def on_offer(sdp: str) -> None:
        offered.set()  # never answered

    peer = Peer(room, "bp1", "bridge_point", video=False)
    peer.endpoint.on_offer = on_offer
    try:
        await peer.connect()
        await asyncio.wait_for(offered.wait(), 5)
        with pytest.raises(SignallingError) as err:
            await peer.endpoint.handle_offer(peer.pc.localDescription.sdp)
        assert err.value.code == "glare"
    finally:
        await peer.close()


async def test_a_peer_that_vanishes_is_dropped_and_others_keep_media(join: ConnectFn) -> None:
    plane = MediaPlane(MediaConfig(peer_timeout=1.5))
    try:
        room = plane.create_room("r-vanish")
        states: list[str] = []
        await join(room, "chair", "chair")
        viewer = await join(room, "bp1", "bridge_point", video=False, audio=False)
        ghost = await join(room, "bp2", "bridge_point", video=False)
        room.endpoint("bp2").on_state = states.append
        room.set_floor(["bp2"])
        mid = room.layout("bp1").video[0].mid

        # the ghost stops answering: no packets, no DTLS goodbye
        assert ghost.audio_track is not None
        ghost.audio_track.stop()
        async def swallow(data: bytes, component: int) -> None:
            return None

        for t in ghost.pc.getTransceivers():
            # the client's ICE layer drops every datagram it is asked to send
            t.receiver.transport.transport._connection.sendto = swallow
        ghost_ep = room.endpoint("bp2")
        await wait_for(
            lambda: {"failed", "disconnected"} & set(states),
            within=6,
            what=f"ghost dropped (state {ghost_ep.state}, states {states})",
        )
        n = viewer.frames(mid)
        await wait_for(lambda: viewer.frames(mid) > n + 5, what="others keep receiving")
        assert room.layout("bp1").audio[1].source is None
    finally:
        await plane.close()


async def test_a_peer_that_closes_is_released_at_once(plane: MediaPlane, join: ConnectFn) -> None:
    room = plane.create_room("r-close")
    await join(room, "chair", "chair", video=False)
    leaver = await join(room, "bp1", "bridge_point", video=False)
    room.set_floor(["bp1"])
    assert room.layout("chair").audio[0].source == "bp1"
    await leaver.close()
    await wait_for(lambda: room.endpoint("bp1").connection_state == "disconnected",
                   within=3, what="endpoint released")
    assert room.layout("chair").audio[0].source is None
    # the endpoint stays in the room and may come back with a new peer connection
    again = Peer(room.plane.room("r-close"), "bp1-new", "bridge_point", video=False)
    try:
        await again.connect()
    finally:
        await again.close()


async def test_garbage_packets_do_not_break_a_connection(
    plane: MediaPlane, join: ConnectFn
) -> None:
    room = plane.create_room("r-garbage")
    await join(room, "chair", "chair", audio=False)
    viewer = await join(room, "bp1", "bridge_point", video=False, audio=False)
    mid = room.layout("bp1").video[0].mid
    await wait_for(lambda: viewer.frames(mid) >= 3, what="video")
    ep = room.endpoint("chair")
    for junk in (b"", b"\x80", b"\x80\xc9\x00\x05" + bytes(3), b"\x81\xcd\x00\x01\xff", bytes(64)):
        ep._on_rtcp(junk)
        ep._on_rtp(junk, 0)
    n = viewer.frames(mid)
    await wait_for(lambda: viewer.frames(mid) > n + 5, what="media continues")
