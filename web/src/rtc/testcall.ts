// The operator's test call with one bridge point (`bridge_point.test_call`): the server opens a
// meeting chaired by the operator with the point invited and given the floor; the point's
// screen joins it by itself. Here the operator's page joins it on its own socket with camera
// and microphone (as the chair, the media policy sends it the point and sends the operator to
// the point), and reads both links' figures (`media.health`) every 2 s until `meeting.end`.

import type { MediaHealthOut } from "../generated/wire";
import { HealthHistory } from "../health/health";
import { LiveMeeting } from "../meetings/live";
import type { MeetingSocket } from "../socket/socket";
import { MediaSession, type MediaOptions } from "./media";

export class TestCall {
    readonly meetingId: number;
    readonly bridgeSubject: string;
    readonly ownSubject: string;
    readonly live: LiveMeeting;
    readonly media: MediaSession;
    readonly health = new HealthHistory(10 * 60_000);
    readonly #socket: MeetingSocket;
    readonly #watchers = new Set<() => void>();
    readonly #off: (() => void)[] = [];
    #poll: ReturnType<typeof setInterval> | null = null;

    /** Start a test call with `bridgePointId` and join it; `ownSubject` is the operator's. */
    static async start(socket: MeetingSocket, bridgePointId: number, ownSubject: string, options: MediaOptions): Promise<TestCall> {
        const meeting = await socket.call("bridge_point.test_call", { bridge_point_id: bridgePointId });
        return new TestCall(socket, meeting.id, `bridge_point:${String(bridgePointId)}`, ownSubject, options);
    }

    constructor(socket: MeetingSocket, meetingId: number, bridgeSubject: string, ownSubject: string, options: MediaOptions, pollMs = 2_000) {
        this.#socket = socket;
        this.meetingId = meetingId;
        this.bridgeSubject = bridgeSubject;
        this.ownSubject = ownSubject;
        this.live = new LiveMeeting(socket, meetingId);
        this.media = new MediaSession(socket, this.live, options);
        this.#off.push(
            this.live.subscribe(() => { this.#onMeeting(); }),
            this.media.subscribe(() => { this.#changed(); }),
        );
        this.#poll = setInterval(() => { void this.#readHealth(); }, pollMs);
    }

    get ended(): boolean {
        return this.live.state?.meeting.state === "ended" || this.live.left !== null;
    }

    /** Whether the bridge point's screen is in the call now. */
    get joined(): boolean {
        return (this.live.state?.presence ?? []).some((p) => `${p.kind}:${String(p.id)}` === this.bridgeSubject);
    }

    latest(subject: string): MediaHealthOut | undefined {
        return this.health.latest.get(subject);
    }

    subscribe(f: () => void): () => void {
        this.#watchers.add(f);
        return () => this.#watchers.delete(f);
    }

    /** End the test meeting (the point's screen then waits for its next meeting); the media
     * stops when `meeting.ended` arrives. */
    async end(): Promise<void> {
        if (this.live.state?.meeting.state !== "ended") {
            await this.#socket.call("meeting.end", { meeting_id: this.meetingId });
        }
    }

    /** Stop following the call (media off, no more polling). */
    close(): void {
        if (this.#poll) clearInterval(this.#poll);
        this.#poll = null;
        this.media.close();
        this.live.close();
        for (const off of this.#off) off();
        this.#changed();
    }

    #onMeeting(): void {
        const state = this.live.state?.meeting.state;
        if (state === "open" || state === "live" || state === "paused") this.media.start();
        if (this.ended) {
            this.media.stop();
            if (this.#poll) clearInterval(this.#poll);
            this.#poll = null;
        }
        this.#changed();
    }

    async #readHealth(): Promise<void> {
        if (!this.live.state || this.ended) return;
        try {
            this.health.add(await this.#socket.call("media.health", { meeting_id: this.meetingId }));
            this.#changed();
        } catch {
            /* the next poll tries again */
        }
    }

    #changed(): void {
        for (const f of this.#watchers) f();
    }
}
