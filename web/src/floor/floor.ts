// The floor (who may speak): holders, requests, commands and the speaking timer.

import type { Commands } from "../generated/wire";
import type { MeetingSocket } from "../socket/socket";
import type { FloorEntry, MeetingState } from "../meetings/state";

export function speakers(s: MeetingState | null): FloorEntry[] {
    return s ? s.floor.filter((e) => e.state === "granted") : [];
}

export function requests(s: MeetingState | null): FloorEntry[] {
    return s ? s.floor.filter((e) => e.state === "requested") : [];
}

export function entryOf(s: MeetingState | null, subject: string | null): FloorEntry | undefined {
    return subject && s ? s.floor.find((e) => e.subject === subject) : undefined;
}

/** What a speaking timer shows: time left before the deadline (or over it), else elapsed. */
export type Timer =
    | { kind: "remaining"; seconds: number }
    | { kind: "overtime"; seconds: number }
    | { kind: "elapsed"; seconds: number };

export function speakingTimer(entry: FloorEntry, now: number): Timer | null {
    if (entry.deadline) {
        const left = (Date.parse(entry.deadline) - now) / 1000;
        return left >= 0 ? { kind: "remaining", seconds: Math.ceil(left) } : { kind: "overtime", seconds: Math.floor(-left) };
    }
    if (!entry.granted_at) return null;
    return { kind: "elapsed", seconds: Math.max(0, Math.floor((now - Date.parse(entry.granted_at)) / 1000)) };
}

/** The floor commands of one meeting. */
export class Floor {
    readonly #socket: MeetingSocket;
    readonly #meetingId: number;

    constructor(socket: MeetingSocket, meetingId: number) {
        this.#socket = socket;
        this.#meetingId = meetingId;
    }

    request() {
        return this.#socket.call("floor.request", { meeting_id: this.#meetingId });
    }

    withdraw() {
        return this.#socket.call("floor.withdraw", { meeting_id: this.#meetingId });
    }

    /** Give the floor; with `limitSeconds`, servers that know speaking limits set a deadline. */
    grant(subject: string, limitSeconds?: number) {
        const payload: Commands["floor.grant"]["payload"] & { limit_seconds?: number } = {
            meeting_id: this.#meetingId,
            subject,
        };
        if (limitSeconds) payload.limit_seconds = limitSeconds;
        return this.#socket.call("floor.grant", payload);
    }

    revoke(subject: string) {
        return this.#socket.call("floor.revoke", { meeting_id: this.#meetingId, subject });
    }

    mute(subject: string, muted: boolean) {
        return this.#socket.call("floor.mute", { meeting_id: this.#meetingId, subject, muted });
    }
}
