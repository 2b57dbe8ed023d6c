// WebRTC with the meeting's media server: publish camera and microphone with `rtc.offer`,
// answer the server's renegotiations (`rtc.offered`) with `rtc.answer`, learn from
// `rtc.layout` which mid shows which subject. After a reconnection the meeting is joined again
// and this offers again on a new peer connection (the server replaces the old one).

import type { RtcLayout } from "../generated/wire";
import type { LiveMeeting } from "../meetings/live";
import type { MeetingSocket } from "../socket/socket";

export type MediaStatus = "idle" | "starting" | "connected" | "failed" | "stopped";

/** Why this screen sends no camera or microphone: the browser refused them (`denied`), there
 * is none (`missing`), another program holds it (`busy`), or something else (`other`). */
export type DeviceProblem = "denied" | "missing" | "busy" | "other";

export interface DeviceIssue {
    /** What could not be used: both, or the camera or the microphone alone. */
    what: "both" | "camera" | "microphone";
    problem: DeviceProblem;
}

/** The kind of a getUserMedia failure, by its DOMException name. */
export function deviceProblem(exc: unknown): DeviceProblem {
    const name = exc instanceof Error ? exc.name : "";
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return "denied";
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") return "missing";
    if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") return "busy";
    return "other";
}

/** Camera and microphone if the browser gives them; else the one it gives; else none. The
 * screen then joins with what it has (receive-only at worst) and says what is missing. */
export async function openDevices(
    getUserMedia: (c: MediaStreamConstraints) => Promise<MediaStream>,
    video: MediaTrackConstraints | boolean,
): Promise<{ stream: MediaStream | null; issue: DeviceIssue | null }> {
    let first: unknown;
    try {
        return { stream: await getUserMedia({ audio: true, video }), issue: null };
    } catch (exc) {
        first = exc;
    }
    const problem = deviceProblem(first);
    if (problem !== "denied") {
        // one of the two may still work (a PC with a microphone but no camera)
        for (const [c, missing] of [[{ audio: true }, "camera"], [{ video }, "microphone"]] as const) {
            try {
                return { stream: await getUserMedia(c), issue: { what: missing, problem } };
            } catch {
                /* try the other */
            }
        }
    }
    return { stream: null, issue: { what: "both", problem } };
}

export interface MediaOptions {
    /** Send camera and microphone (bridge points, chair, delegates); false only receives. */
    publish: boolean;
    video?: MediaTrackConstraints | boolean;
    /** Give up waiting for ICE gathering after this long (host candidates take milliseconds). */
    gatherTimeoutMs?: number;
}

/** The quality of this screen's own link, from its peer connection's statistics. */
export interface LinkStats {
    rttMs: number | null;
    lossFraction: number;
    bitrateIn: number;
}

async function gathered(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
    if (pc.iceGatheringState === "complete") return;
    await new Promise<void>((resolve) => {
        const done = () => {
            if (pc.iceGatheringState === "complete") {
                pc.removeEventListener("icegatheringstatechange", done);
                resolve();
            }
        };
        pc.addEventListener("icegatheringstatechange", done);
        setTimeout(resolve, timeoutMs);
    });
}

export class MediaSession {
    status: MediaStatus = "idle";
    error: string | null = null;
    /** Set when the camera or microphone could not be used (the screen still receives). */
    device: DeviceIssue | null = null;
    layout: RtcLayout | null = null;
    local: MediaStream | null = null;
    pc: RTCPeerConnection | null = null;
    readonly #socket: MeetingSocket;
    readonly #live: LiveMeeting;
    readonly #options: MediaOptions;
    readonly #streams = new Map<string, MediaStream>();
    readonly #watchers = new Set<() => void>();
    readonly #off: (() => void)[] = [];
    #chain: Promise<void> = Promise.resolve();
    #wanted = false;
    #lastStats: { at: number; bytes: number; lost: number; received: number } | null = null;

    constructor(socket: MeetingSocket, live: LiveMeeting, options: MediaOptions) {
        this.#socket = socket;
        this.#live = live;
        this.#options = options;
        this.#off.push(
            socket.on("rtc.offered", (ev) => {
                if (ev.meeting_id === live.meetingId) this.#serial(() => this.#answer(ev.sdp));
            }),
            socket.on("rtc.layout", (ev) => {
                if (ev.meeting_id !== live.meetingId) return;
                this.layout = ev;
                this.#changed();
            }),
            live.onJoined(() => {
                if (this.#wanted && live.joins > 1) this.#serial(() => this.#connect());
            }),
        );
    }

    subscribe(f: () => void): () => void {
        this.#watchers.add(f);
        return () => this.#watchers.delete(f);
    }

    /** Start the media (idempotent); it restarts by itself after each reconnection. */
    start(): void {
        if (this.#wanted) return;
        this.#wanted = true;
        this.#serial(() => this.#connect());
    }

    /** Ask the browser for the camera and microphone again (after the user allowed them or
     * plugged one in) and offer again with what it gives. */
    retryDevices(): void {
        if (!this.#wanted) return;
        for (const t of this.local?.getTracks() ?? []) t.stop();
        this.local = null;
        this.device = null;
        this.#serial(() => this.#connect());
    }

    /** Stop sending and receiving (the meeting ended, or the screen closes). */
    stop(): void {
        this.#wanted = false;
        this.pc?.close();
        this.pc = null;
        for (const t of this.local?.getTracks() ?? []) t.stop();
        this.local = null;
        this.#streams.clear();
        this.layout = null;
        this.status = "stopped";
        this.#changed();
    }

    close(): void {
        this.stop();
        for (const off of this.#off) off();
    }

    /** The stream that shows `subject` (video), if a slot shows it now. */
    videoOf(subject: string | null): MediaStream | null {
        if (!subject || !this.layout) return null;
        const slot = this.layout.video.find((s) => s.subject === subject && s.mid !== null);
        return slot?.mid != null ? (this.#streams.get(slot.mid) ?? null) : null;
    }

    /** The remote audio streams (one per audio slot the server forwards). */
    audioStreams(): MediaStream[] {
        if (!this.layout) return [];
        return this.layout.audio.flatMap((s) => {
            const stream = s.mid != null ? this.#streams.get(s.mid) : undefined;
            return stream ? [stream] : [];
        });
    }

    /** Round trip, loss and incoming bitrate of this screen's own link. */
    async linkStats(): Promise<LinkStats | null> {
        const pc = this.pc;
        if (!pc) return null;
        const report = await pc.getStats();
        let rtt: number | null = null;
        let bytes = 0;
        let lost = 0;
        let received = 0;
        report.forEach((r: RTCStats & Record<string, unknown>) => {
            if (r.type === "candidate-pair" && r.state === "succeeded" && typeof r.currentRoundTripTime === "number") {
                rtt = r.currentRoundTripTime * 1000;
            }
            if (r.type === "inbound-rtp") {
                bytes += Number(r.bytesReceived ?? 0);
                lost += Number(r.packetsLost ?? 0);
                received += Number(r.packetsReceived ?? 0);
            }
        });
        const now = Date.now();
        const prev = this.#lastStats;
        this.#lastStats = { at: now, bytes, lost, received };
        if (!prev || now <= prev.at) return { rttMs: rtt, lossFraction: 0, bitrateIn: 0 };
        const dLost = Math.max(0, lost - prev.lost);
        const dRecv = Math.max(0, received - prev.received);
        return {
            rttMs: rtt,
            lossFraction: dLost + dRecv > 0 ? dLost / (dLost + dRecv) : 0,
            bitrateIn: ((bytes - prev.bytes) * 8) / ((now - prev.at) / 1000),
        };
    }

    #serial(f: () => Promise<void>): void {
        this.#chain = this.#chain.then(f).catch((exc: unknown) => {
            this.status = "failed";
            this.error = exc instanceof Error ? exc.message : String(exc);
            this.#changed();
        });
    }

    async #connect(): Promise<void> {
        if (!this.#wanted || !this.#socket.connected) return;
        this.status = "starting";
        this.error = null;
        this.#changed();
        const meetingId = this.#live.meetingId;
        if (this.#options.publish && !this.local) {
            // no mediaDevices at all on a page not served over HTTPS (or loopback)
            const devices = navigator.mediaDevices as MediaDevices | undefined;
            const gum = devices ? devices.getUserMedia.bind(devices) : null;
            const got = gum
                ? await openDevices(gum, this.#options.video ?? { width: 640, height: 360 })
                : { stream: null, issue: { what: "both", problem: "other" } as const };
            this.local = got.stream;
            this.device = got.issue;
        }
        const config = await this.#socket.call("rtc.config", { meeting_id: meetingId });
        this.pc?.close();
        this.#streams.clear();
        const pc = new RTCPeerConnection({
            iceServers: config.ice_servers.map((s) => {
                const server: RTCIceServer = { urls: s.urls };
                if (s.username) server.username = s.username;
                if (s.credential) server.credential = s.credential;
                return server;
            }),
            bundlePolicy: "max-bundle",
        });
        this.pc = pc;
        pc.addEventListener("track", (ev) => {
            const mid = ev.transceiver.mid;
            if (mid === null) return;
            this.#streams.set(mid, new MediaStream([ev.track]));
            this.#changed();
        });
        pc.addEventListener("connectionstatechange", () => {
            if (pc !== this.pc) return;
            if (pc.connectionState === "connected") this.status = "connected";
            else if (pc.connectionState === "failed") this.status = "failed";
            this.#changed();
        });
        const tracks = this.local?.getTracks() ?? [];
        for (const track of tracks) pc.addTransceiver(track, { direction: "sendonly", streams: [this.local as MediaStream] });
        if (tracks.length === 0) pc.addTransceiver("audio", { direction: "recvonly" });
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc, this.#options.gatherTimeoutMs ?? 3_000);
        const local = pc.localDescription;
        if (!local) throw new Error("no local description");
        const answer = await this.#socket.call("rtc.offer", { meeting_id: meetingId, sdp: local.sdp });
        if (pc !== this.pc) return;
        await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
        try {
            this.layout = await this.#socket.call("rtc.layout", { meeting_id: meetingId });
        } catch {
            /* the next rtc.layout event brings it */
        }
        this.#changed();
    }

    async #answer(sdp: string): Promise<void> {
        const pc = this.pc;
        if (!pc) return;
        await pc.setRemoteDescription({ type: "offer", sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        await gathered(pc, this.#options.gatherTimeoutMs ?? 3_000);
        const local = pc.localDescription;
        if (!local || pc !== this.pc) return;
        await this.#socket.call("rtc.answer", { meeting_id: this.#live.meetingId, sdp: local.sdp });
    }

    #changed(): void {
        for (const f of this.#watchers) f();
    }
}
