"""SDP for the media plane: what we accept in client offers, how we number our own offers.

aiortc's SDP parser and serializer are used for reading; edits are made line by line on
the text so that attributes aiortc does not model are kept as the client sent them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCRtpSender
from aiortc.sdp import SessionDescription

from .errors import SignallingError, UnsupportedCodecError

#: codecs the forwarder passes through; anything else is removed from offers
FORWARDABLE = {"audio": {"OPUS"}, "video": {"VP8", "H264"}}


def codec_preferences(kind: str) -> list[Any]:
    """aiortc codec capabilities the forwarder can pass through (no RTX), for
    ``RTCRtpTransceiver.setCodecPreferences``."""
    caps = RTCRtpSender.getCapabilities(kind)
    return [c for c in caps.codecs if c.mimeType.split("/")[1].upper() in FORWARDABLE[kind]]


_PT_LINE = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+)[ \t]")


def filter_offer(sdp: str) -> tuple[str, SessionDescription]:
    """Validate a client's offer and remove codecs we cannot forward (and RTX).

    Raises :class:`SignallingError` for an unparsable offer and
    :class:`UnsupportedCodecError` when an audio/video section keeps no codec. The text is
    edited line by line, so attributes aiortc does not model are kept as sent.
    """
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        raise SignallingError("bad_sdp", "offer is not an SDP document")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:
        raise SignallingError("bad_sdp", f"offer could not be parsed: {exc!r}") from exc
    keep: list[set[int] | None] = []
    for media in parsed.media:
        if media.kind not in ("audio", "video"):
            keep.append(None)
            continue
        allowed: set[int] = {
            c.payloadType
            for c in media.rtp.codecs
            if c.payloadType is not None
            and c.mimeType.split("/")[1].upper() in FORWARDABLE[media.kind]
        }
        if not allowed and media.port != 0:
            names = sorted({c.mimeType for c in media.rtp.codecs}) or ["none"]
            raise UnsupportedCodecError(
                f"{media.kind} section {media.rtp.muxId} offers only {', '.join(names)}; "
                f"the server forwards {', '.join(sorted(FORWARDABLE[media.kind]))}"
            )
        keep.append(allowed)
    out: list[str] = []
    index = -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
            allowed_pts = keep[index] if index < len(keep) else None
            if allowed_pts is not None:
                head = line.split(" ")[:3]
                fmts = [f for f in line.split(" ")[3:] if f.isdigit() and int(f) in allowed_pts]
                line = " ".join(head + fmts)
        elif index >= 0 and keep[index] is not None:
            m = _PT_LINE.match(line)
            allowed_pts = keep[index]
            assert allowed_pts is not None
            if m and int(m.group(2)) not in allowed_pts:
                continue
        out.append(line)
    return "\r\n".join(out) + "\r\n", parsed


CodecIdentity = tuple[str, int, tuple[tuple[str, str], ...]]

_RTPMAP_LINE = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+)([ \t].*)?$")
_EXTMAP_LINE = re.compile(r"^a=extmap:(\d+)(/\S+)?([ \t].*)$")
_DYNAMIC_PTS = [*range(96, 128), *range(35, 64)]


class SdpNumbering:
    """Keeps payload types and header extension ids stable for the whole session.

    aiortc numbers codecs and extensions afresh in every offer it creates; browsers refuse
    a re-offer that reassigns an id ("RTP extension ID reassignment not supported") and
    a BUNDLE group in which one payload type means two codecs. So every server offer is
    rewritten to the numbers the client's SDPs established; a codec or extension new to
    the session gets a number nobody uses yet.
    """

    def __init__(self) -> None:
        self.pt_by_codec: dict[CodecIdentity, int] = {}
        self.codec_by_pt: dict[int, CodecIdentity] = {}
        self.id_by_uri: dict[str, int] = {}
        self.uri_by_id: dict[int, str] = {}

    @staticmethod
    def identity(codec: Any) -> CodecIdentity:
        """What makes two codec descriptions the same codec configuration."""
        params = tuple(sorted((str(k), str(v)) for k, v in codec.parameters.items()))
        return (str(codec.mimeType).lower(), int(codec.clockRate), params)

    def learn(self, description: SessionDescription) -> None:
        """Record the numbers a client SDP uses (first use wins)."""
        for media in description.media:
            for c in media.rtp.codecs:
                if c.payloadType is None:
                    continue
                ident = self.identity(c)
                self.codec_by_pt.setdefault(c.payloadType, ident)
                self.pt_by_codec.setdefault(ident, c.payloadType)
            for h in media.rtp.headerExtensions:
                self.uri_by_id.setdefault(h.id, h.uri)
                self.id_by_uri.setdefault(h.uri, h.id)

    def _pt(self, ident: CodecIdentity) -> int:
        pt = self.pt_by_codec.get(ident)
        if pt is None:
            pt = next(p for p in _DYNAMIC_PTS if p not in self.codec_by_pt)
            self.pt_by_codec[ident] = pt
            self.codec_by_pt[pt] = ident
        return pt

    def _ext_id(self, uri: str) -> int:
        ext_id = self.id_by_uri.get(uri)
        if ext_id is None:
            ext_id = next(i for i in range(1, 15) if i not in self.uri_by_id)
            self.id_by_uri[uri] = ext_id
            self.uri_by_id[ext_id] = uri
        return ext_id

    def rewrite(self, sdp: str) -> str:
        """``sdp`` (our offer) with the session's payload types and extension ids."""
        description = SessionDescription.parse(sdp)
        maps: list[tuple[dict[int, int], dict[int, int]]] = []
        for media in description.media:
            pts = {
                c.payloadType: self._pt(self.identity(c))
                for c in media.rtp.codecs
                if c.payloadType is not None
            }
            ids = {h.id: self._ext_id(h.uri) for h in media.rtp.headerExtensions}
            maps.append((pts, ids))
        out: list[str] = []
        index = -1
        for line in sdp.splitlines():
            if line.startswith("m="):
                index += 1
                pts = maps[index][0]
                if pts:
                    head, fmts = line.split(" ")[:3], line.split(" ")[3:]
                    line = " ".join(head + [str(pts.get(int(f), f)) for f in fmts])
            elif index >= 0:
                pts, ids = maps[index]
                m = _RTPMAP_LINE.match(line)
                if m and int(m.group(2)) in pts:
                    line = f"a={m.group(1)}:{pts[int(m.group(2))]}{m.group(3) or ''}"
                e = _EXTMAP_LINE.match(line)
                if e and int(e.group(1)) in ids:
                    line = f"a=extmap:{ids[int(e.group(1))]}{e.group(2) or ''}{e.group(3)}"
            out.append(line)
        return "\r\n".join(out) + "\r\n"


def session_id(parsed: SessionDescription) -> str | None:
    """Identify the client's peer connection by its ICE username fragment.

    (aiortc writes a new ``o=`` session id in every offer, so the origin cannot be used;
    a new peer connection always has new ICE credentials. ICE restarts are not supported.)
    """
    for media in parsed.media:
        if media.ice is not None and media.ice.usernameFragment:
            return str(media.ice.usernameFragment)
    return None


#: simulcast layers accepted per source (browsers send up to 3)
MAX_LAYERS = 3
#: the agent's marker on each m-line that is one layer of a simulcast source:
#: ``a=x-simulcast-layer:<source> <index, 0 = lowest> [<max bitrate, bit/s>]``
AGENT_LAYER_ATTR = "x-simulcast-layer"
_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"


@dataclass(frozen=True)
class Simulcast:
    """What a client SDP says about simulcast.

    ``rids``: per MID, the RtpStreamIds a browser sends on that one m-line
    (``a=simulcast:send`` order; ``~`` paused ones included). ``layers``: per MID, the
    agent's source name, layer index and maximum bitrate when every layer is an m-line
    of its own (aiortc sends one SSRC per m-line). ``rid_ext_id``: the id of the RID
    header extension.
    """

    rids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    layers: dict[str, tuple[str, int, int | None]] = field(default_factory=dict)
    rid_ext_id: int | None = None


def _sections(sdp: str) -> list[list[str]]:
    """The SDP's lines split at ``m=`` lines (section 0 is the session part)."""
    out: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            out.append([])
        out[-1].append(line)
    return out


def parse_simulcast(sdp: str) -> Simulcast:
    """Read the simulcast attributes aiortc's parser ignores (RFC 8853, and the agent's)."""
    result = Simulcast()
    for section in _sections(sdp)[1:]:
        mid = None
        rids: list[str] = []
        layer: tuple[str, int, int | None] | None = None
        for line in section:
            if line.startswith("a=mid:"):
                mid = line[6:].strip()
            elif line.startswith("a=simulcast:"):
                parts = line[len("a=simulcast:") :].split()
                for direction, value in zip(parts[::2], parts[1::2], strict=False):
                    if direction == "send":
                        for alt in value.split(";"):
                            rid = alt.split(",")[0].lstrip("~")
                            if rid and rid not in rids:
                                rids.append(rid)
            elif line.startswith(f"a={AGENT_LAYER_ATTR}:"):
                fields = line.split(":", 1)[1].split()
                try:
                    layer = (
                        fields[0],
                        int(fields[1]),
                        int(fields[2]) if len(fields) > 2 else None,
                    )
                except (IndexError, ValueError):
                    layer = None
            else:
                e = _EXTMAP_LINE.match(line)
                if e and e.group(3).split()[0] == _RID_URI:
                    object.__setattr__(result, "rid_ext_id", int(e.group(1)))
        if mid is None:
            continue
        if len(rids) > 1:
            result.rids[mid] = tuple(rids[:MAX_LAYERS])
        if layer is not None and 0 <= layer[1] < MAX_LAYERS:
            result.layers[mid] = layer
    return result


def add_simulcast_recv(sdp: str, rids: dict[str, tuple[str, ...]], rid_ext_id: int | None) -> str:
    """``sdp`` (ours) with ``a=rid:... recv`` / ``a=simulcast:recv`` on the client's simulcast
    m-lines and the RID header extension, which aiortc does not write: without them a
    browser sends one layer only (and refuses a re-offer that drops them)."""
    if not rids:
        return sdp
    out: list[str] = []
    for section in _sections(sdp):
        mid = next((ln[6:].strip() for ln in section if ln.startswith("a=mid:")), None)
        layers = rids.get(mid or "")
        if layers and section[0].startswith("m=video") and not section[0].split()[1] == "0":
            extra = []
            if rid_ext_id is not None and not any(_RID_URI in ln for ln in section):
                extra.append(f"a=extmap:{rid_ext_id} {_RID_URI}")
            extra += [f"a=rid:{r} recv" for r in layers]
            extra.append("a=simulcast:recv " + ";".join(layers))
            section = [ln for ln in section if not ln.startswith(("a=rid:", "a=simulcast:"))]
            section += extra
        out.extend(section)
    return "\r\n".join(out) + "\r\n"


def mark_agent_layers(sdp: str, max_bitrates: tuple[int, ...], source: str = "camera") -> str:
    """The agent's offer with its first ``len(max_bitrates)`` video m-lines marked as the
    layers (lowest first) of one simulcast source (see ``AGENT_LAYER_ATTR``)."""
    out: list[str] = []
    index = -1
    for line in sdp.splitlines():
        out.append(line)
        if line.startswith("m=video"):
            index += 1
        elif line.startswith("a=mid:") and 0 <= index < len(max_bitrates):
            out.append(f"a={AGENT_LAYER_ATTR}:{source} {index} {max_bitrates[index]}")
    return "\r\n".join(out) + "\r\n"
