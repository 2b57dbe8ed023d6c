"""MediaConfig validation, client ICE servers, announced addresses, layout callbacks."""

from __future__ import annotations

import pytest
from media_peers import ConnectFn, wait_for

from media import IceServer, Layout, MediaConfig, MediaPlane, turn_credentials


def test_config_defaults_and_validation() -> None:
    c = MediaConfig()
    assert c.listen_ips == ("127.0.0.1",) and c.ice_servers == () and c.video_page_size == 16
    assert MediaConfig(listen_ips=["10.0.0.5"]).listen_ips == ("10.0.0.5",)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="listen_ips"):
        MediaConfig(listen_ips=())
    with pytest.raises(ValueError, match="turn_secret"):
        MediaConfig(turn_urls=("turn:127.0.0.1:3478",))
    with pytest.raises(ValueError):
        MediaConfig(video_page_size=0)


async def test_client_ice_servers() -> None:
    plane = MediaPlane(
        MediaConfig(ice_servers=("stun:stun.example:3478",), turn_urls=("turn:t:3478",),
                    turn_secret="s", turn_ttl=600)
    )
    stun, turn = plane.client_ice_servers("bp7")
    assert stun == IceServer(urls=("stun:stun.example:3478",))
    assert turn.urls == ("turn:t:3478",) and turn.username and turn.username.endswith(":bp7")
    assert turn.credential
    assert MediaPlane(MediaConfig()).client_ice_servers("x") == ()
    await plane.close()


async def test_announced_ip_replaces_listen_ip_in_sdp(join: ConnectFn) -> None:
    plane = MediaPlane(MediaConfig(announced_ip="203.0.113.7"))
    try:
        room = plane.create_room("r-nat")
        ep = room.add_endpoint("bp1", "bridge_point")
        from aiortc import RTCConfiguration, RTCPeerConnection

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("audio", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        answer = await ep.handle_offer(pc.localDescription.sdp)
        candidates = [x for x in answer.splitlines() if x.startswith("a=candidate")]
        assert candidates and all(" 203.0.113.7 " in x for x in candidates)
        assert "127.0.0.1" not in answer
        await pc.close()
    finally:
        await plane.close()


async def test_layout_callback_follows_changes(plane: MediaPlane, join: ConnectFn) -> None:
    layouts: list[Layout] = []
    room = plane.create_room("r-layout", on_layout=layouts.append)
    await join(room, "chair", "chair")
    await join(room, "bp1", "bridge_point")
    await wait_for(
        lambda: any(x.endpoint_id == "bp1" and x.video[0].source == "chair" for x in layouts),
        what="bp1 told it shows the chair",
    )
    room.set_floor(["bp1"])
    last = [x for x in layouts if x.endpoint_id == "chair"][-1]
    assert last.video[0].source == "bp1" and last.audio[0].source == "bp1"
    assert last.video[0].mid is not None


def test_sdp_numbering_keeps_the_clients_numbers() -> None:
    from aiortc.sdp import SessionDescription

    from media.sdp import SdpNumbering

    client = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=mid:0\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\n"
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=mid:1\r\n"
        "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\n"
        "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
    )
    numbering = SdpNumbering()
    numbering.learn(SessionDescription.parse(client))
    ours = (
        "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
        "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=mid:0\r\n"
        "a=rtpmap:96 opus/48000/2\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 97 99\r\nc=IN IP4 0.0.0.0\r\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
        "a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\na=mid:1\r\n"
        "a=rtpmap:97 VP8/90000\r\na=rtcp-fb:97 nack pli\r\n"
        "a=rtpmap:99 H264/90000\r\na=fmtp:99 packetization-mode=1\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=mid:2\r\n"
        "a=rtpmap:96 opus/48000/2\r\n"
    )
    out = SessionDescription.parse(numbering.rewrite(ours))
    audio, video, slot = out.media
    assert [c.payloadType for c in audio.rtp.codecs] == [111]
    assert [c.payloadType for c in slot.rtp.codecs] == [111]
    vp8, h264 = video.rtp.codecs
    assert vp8.payloadType == 96 and vp8.rtcpFeedback  # the client's number, feedback kept
    assert h264.payloadType not in (96, 97, 111)  # new codec: a number nobody uses
    ids = {h.uri: h.id for m in out.media for h in m.rtp.headerExtensions}
    assert ids["urn:ietf:params:rtp-hdrext:sdes:mid"] == 4
    assert ids["urn:ietf:params:rtp-hdrext:ssrc-audio-level"] == 1
    assert ids["http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"] not in (1, 4)


def test_turn_rest_credentials() -> None:
    user, password = turn_credentials("secret", 3600, "bp1", now=1_000_000)
    assert user == "1003600:bp1"
    # HMAC-SHA1("secret", "1003600:bp1"), base64
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"secret", user.encode(), hashlib.sha1).digest())
    assert password == expected.decode()
