// The ordering rule of the meeting stream, apart from any socket: events are applied strictly
// in `seq` order, a repeat is ignored, a gap asks for a resync.

import { STREAM_EVENTS, type Events, type MeetingSnapshotOut, type StreamEventName } from "../generated/wire";
import { fromSnapshot, reduce, type MeetingState } from "./state";

export type Offered = "applied" | "repeat" | "gap" | "ignored";

const STREAM: ReadonlySet<string> = new Set(STREAM_EVENTS);

export function isStreamEvent(type: string): type is StreamEventName {
    return STREAM.has(type);
}

export class MeetingStream {
    state: MeetingState | null = null;
    seq = 0;

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
