"""MediaConfig validation, client ICE servers, announced addresses, layout callbacks."""

from __future__ import annotations

import pytest
from media_peers import ConnectFn, wait_for

from media import IceServer, Layout, MediaConfig, MediaPlane


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
