// A meeting followed live over the socket: join on the first connection, resync after every
// reconnection, events applied in order; no reload and no lost event across a dropped link.

import { STREAM_EVENTS } from "../generated/wire";
import { CommandFailed, type Closed, type MeetingSocket } from "../socket/socket";
import type { MeetingState } from "./state";
import { MeetingStream } from "./stream";

export class LiveMeeting {
    readonly meetingId: number;
    readonly stream = new MeetingStream();
    /** Set when the server took this connection out of the meeting. */
    left: Closed | null = null;
    /** The last failure of a join or resync (shown; the next connection tries again). */
    error: CommandFailed | null = null;
    /** How many times the meeting was (re)joined on a connection; media restarts on each. */
    joins = 0;
    readonly #socket: MeetingSocket;
    readonly #watchers = new Set<() => void>();
    readonly #joinWatchers = new Set<() => void>();
    readonly #off: (() => void)[] = [];
    #joining = false;
    #closed = false;
    #failures = 0;
    #retry: ReturnType<typeof setTimeout> | null = null;
    #buffer: [string, unknown][] = [];

    constructor(socket: MeetingSocket, meetingId: number) {
        this.#socket = socket;
        this.meetingId = meetingId;
        this.#off.push(socket.onConnect(() => void this.#sync()));
        this.#off.push(
            socket.on("meeting.left", (ev) => {
                if (ev.meeting_id !== meetingId) return;
                this.left = { code: ev.code, message: ev.message };
                this.#changed();
            }),
        );
        for (const type of STREAM_EVENTS) {
            this.#off.push(socket.on(type, (ev) => { this.#event(type, ev); }));
        }
    }

    get state(): MeetingState | null {
        return this.stream.state;
    }

    get seq(): number {
        return this.stream.seq;
    }

    subscribe(f: () => void): () => void {
        this.#watchers.add(f);
        return () => this.#watchers.delete(f);
    }

    /** Call `f` after each successful join or resync (media offers again then). */
    onJoined(f: () => void): () => void {
        this.#joinWatchers.add(f);
        return () => this.#joinWatchers.delete(f);
    }

    close(): void {
        this.#closed = true;
        if (this.#retry) clearTimeout(this.#retry);
        for (const off of this.#off) off();
    }

    /** A join or resync that failed for a passing reason (the server busy or just restarted,
     * no answer in time) is tried again shortly on the same connection, 0.5 s then up to 5 s
     * apart; a new connection tries at once anyway. */
    #retrySoon(): void {
        if (this.#retry || this.#closed) return;
        const ms = Math.min(5_000, 500 * 2 ** Math.min(this.#failures, 4));
        this.#failures += 1;
        this.#retry = setTimeout(() => {
            this.#retry = null;
            if (!this.#closed && this.#socket.connected) void this.#sync();
        }, ms);
    }

    #event(type: string, ev: unknown): void {
        if (this.#joining) {
            this.#buffer.push([type, ev]);
            return;
        }
        const r = this.stream.offer(type, ev);
        const at = (ev as { at?: unknown }).at;
        if (r === "applied" && typeof at === "string") this.stream.observe(at);
        if (r === "applied") this.#changed();
        else if (r === "gap") void this.#sync();
    }

    async #sync(): Promise<void> {
        if (this.#joining || this.left) return;
        this.#joining = true;
        this.#buffer = [];
        try {
            if (this.stream.state === null) {
                const r = await this.#socket.call("meeting.join", { meeting_id: this.meetingId });
                this.stream.reset(r.snapshot, r.seq);
            } else {
                const r = await this.#socket.call("meeting.resync", {
                    meeting_id: this.meetingId,
                    after_seq: this.stream.seq,
                });
                if ("snapshot" in r) this.stream.reset(r.snapshot, r.seq);
                else for (const ev of r.events) this.stream.offer(String(ev.type), ev);
            }
            this.error = null;
            this.#failures = 0;
            this.joins += 1;
        } catch (exc) {
            this.error = exc instanceof CommandFailed ? exc : new CommandFailed("meeting.join", { code: "internal", message: String(exc) });
            if (this.error.error.code === "not_found" || this.error.error.code === "forbidden") {
                this.left = { code: this.error.error.code, message: this.error.error.message };
            } else {
                this.#retrySoon();
            }
        } finally {
            this.#joining = false;
        }
        const buffered = this.#buffer;
        this.#buffer = [];
        let gap = false;
        for (const [type, ev] of buffered) if (this.stream.offer(type, ev) === "gap") gap = true;
        this.#changed();
        if (!this.error) for (const f of this.#joinWatchers) f();
        if (gap) void this.#sync();
    }

    #changed(): void {
        for (const f of this.#watchers) f();
    }
}
