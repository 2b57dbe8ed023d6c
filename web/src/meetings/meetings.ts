// Meeting-level commands and the choice of which meeting a screen follows.

import type { MeetingState as WireMeetingState, MeetingSummaryOut } from "../generated/wire";
import type { MeetingSocket } from "../socket/socket";

export const MEDIA_STATES: ReadonlySet<WireMeetingState> = new Set(["open", "live", "paused"]);

/** The meeting a bridge point or delegate screen should follow: a live one first, then a
 * paused or open one, the earliest starting first. */
export function pickMeeting(list: readonly MeetingSummaryOut[]): MeetingSummaryOut | null {
    const rank: Partial<Record<WireMeetingState, number>> = { live: 0, paused: 1, open: 2, scheduled: 3 };
    const candidates = list.filter((m) => rank[m.state] !== undefined);
    candidates.sort((a, b) => (rank[a.state] ?? 9) - (rank[b.state] ?? 9) || a.starts_at.localeCompare(b.starts_at));
    return candidates[0] ?? null;
}

export type Transition = "open" | "start" | "pause" | "resume" | "end";

/** Which state changes the chair may make from `state`. */
export function transitions(state: WireMeetingState): Transition[] {
    switch (state) {
        case "draft":
        case "scheduled":
            return state === "scheduled" ? ["open", "start"] : ["open"];
        case "open":
            return ["start", "end"];
        case "live":
            return ["pause", "end"];
        case "paused":
            return ["resume", "end"];
        case "ended":
            return [];
    }
}

export class MeetingCommands {
    readonly #socket: MeetingSocket;
    readonly #meetingId: number;

    constructor(socket: MeetingSocket, meetingId: number) {
        this.#socket = socket;
        this.#meetingId = meetingId;
    }

    transition(verb: Transition) {
        const p = { meeting_id: this.#meetingId };
        switch (verb) {
            case "open":
                return this.#socket.call("meeting.open", p);
            case "start":
                return this.#socket.call("meeting.start", p);
            case "pause":
                return this.#socket.call("meeting.pause", p);
            case "resume":
                return this.#socket.call("meeting.resume", p);
            case "end":
                return this.#socket.call("meeting.end", p);
        }
    }

    moveTo(itemId: number) {
        return this.#socket.call("meeting.move_to_item", { meeting_id: this.#meetingId, item_id: itemId });
    }

    /** Start or stop recording the meeting (ghi hình); screens learn it from the events. */
    record(on: boolean) {
        const p = { meeting_id: this.#meetingId };
        return on ? this.#socket.call("recording.start", p) : this.#socket.call("recording.stop", p);
    }

    health() {
        return this.#socket.call("media.health", { meeting_id: this.#meetingId });
    }
}
