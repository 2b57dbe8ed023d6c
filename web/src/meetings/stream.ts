// The ordering rule of the meeting stream, apart from any socket: events are applied strictly
// in `seq` order, a repeat is ignored, a gap asks for a resync.

import { STREAM_EVENTS, type Events, type MeetingSnapshotOut, type StreamEventName } from "../generated/wire";
import { fromSnapshot, reduce, type MeetingState } from "./state";

export type Offered = "applied" | "repeat" | "gap" | "ignored";

const STREAM: ReadonlySet<string> = new Set(STREAM_EVENTS);

export function isStreamEvent(type: string): type is StreamEventName {
    return STREAM.has(type);
}

/** How many recent events the clock offset is estimated from. */
const OFFSET_SAMPLES = 20;
/** Below this (ms), a measured offset is taken for delivery time, not a wrong clock. */
const SKEW_TOLERANCE_MS = 3_000;

export class MeetingStream {
    state: MeetingState | null = null;
    seq = 0;
    /** (this clock - the server's) in ms, as seen on live events: the smallest recent
     * (arrival - `at`), which is the offset plus the quickest delivery. Speaking deadlines are
     * on the server's clock; a kiosk whose clock is off still counts down right. */
    #offsets: number[] = [];

    /** Now on the server's clock (ms), for timers. An estimate within a few seconds cannot
     * tell a skewed clock from slow delivery (a loaded server, a busy page), so the clocks are
     * taken as agreeing then; only a clearly wrong clock (a kiosk without time sync) is
     * corrected. */
    serverNow(now = Date.now()): number {
        if (!this.#offsets.length) return now;
        const offset = Math.min(...this.#offsets);
        return Math.abs(offset) < SKEW_TOLERANCE_MS ? now : now - offset;
    }

    /** Learn the clock offset from an event that arrived just now (not a replay). */
    observe(at: string, now = Date.now()): void {
        const sent = Date.parse(at);
        if (!Number.isFinite(sent)) return;
        this.#offsets.push(now - sent);
        if (this.#offsets.length > OFFSET_SAMPLES) this.#offsets.shift();
    }

    /** Replace everything with a snapshot taken at `seq` (join, or a resync that needed one). */
    reset(snapshot: MeetingSnapshotOut, seq: number): void {
        this.state = fromSnapshot(snapshot);
        this.seq = seq;
    }

    /** Apply one event if it is the next one; say what happened. */
    offer(type: string, ev: unknown): Offered {
        if (!this.state || !isStreamEvent(type)) return "ignored";
        const e = ev as Events[StreamEventName];
        if (e.meeting_id !== this.state.meeting.id) return "ignored";
        if (e.seq <= this.seq) return "repeat";
        if (e.seq !== this.seq + 1) return "gap";
        reduce(this.state, type, e);
        this.seq = e.seq;
        return "applied";
    }
}
