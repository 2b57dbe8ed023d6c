"""Video and audio reach subscribers intact and decodable, without a server decoder."""

from __future__ import annotations

import aiortc.codecs
import aiortc.rtcrtpreceiver
import pytest
from media_peers import ConnectFn, wait_for

from media import MediaPlane


async def test_chair_video_and_audio_reach_bridge_point_decodable(
    plane: MediaPlane, join: ConnectFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoders: list[str] = []
    real_get_decoder = aiortc.codecs.get_decoder

    def spy(codec: object) -> object:
        decoders.append(repr(codec))
        return real_get_decoder(codec)

    # every aiortc decoder (client or server) is created through this name
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", spy)

    room = plane.create_room("r1")
    chair = await join(room, "chair", "chair")
    bridge = await join(room, "bp1", "bridge_point", video=False, audio=False)

    layout = room.layout("bp1")
    video_mid = layout.video[0].mid
    audio_mid = layout.audio[0].mid
    assert layout.video[0].source == "chair"
    assert layout.audio[0].source == "chair"
    await wait_for(lambda: bridge.frames(video_mid) >= 10, what="chair video at bridge point")
    await wait_for(lambda: bridge.frames(audio_mid) >= 10, what="chair audio at bridge point")
    assert bridge.received[video_mid].sizes == {(160, 120)}
    # the bridge point decoded VP8 and Opus; the server created no decoder at all
    n_client_decoders = len(decoders)
    assert n_client_decoders == 2, decoders  # bridge point: one video, one audio decoder
    stats = room.stats()
    assert stats["chair"].packets_in > 0
    assert stats["bp1"].packets_out > 0
    del chair
