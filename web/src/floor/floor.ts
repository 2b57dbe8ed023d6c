// The floor (who may speak): holders, requests, commands and the speaking timer.

import { timeLeft, type TimeLeft } from "../meetings/clock";
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

/** The last seconds of a speaking-time limit, shown as a warning. */
export const WARN_SECONDS = 10;

/** What a speaking timer shows: time left before the deadline (a warning in the last
 * {@link WARN_SECONDS}; "time up" once it passed, until the server takes the floor back),
 * else the time spoken. */
export type Timer = TimeLeft | { kind: "elapsed"; seconds: number };

/** The timer of `entry` at `now` (ms, on the server's clock: see `MeetingStream.serverNow`). */
export function speakingTimer(entry: FloorEntry, now: number): Timer | null {
    if (entry.deadline) return timeLeft(entry.deadline, now, WARN_SECONDS);
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

    /** Give the floor; with `limitSeconds` (10..14400) the server sets a deadline and takes
     * the floor back when it passes. */
    grant(subject: string, limitSeconds?: number | null) {
        return this.#socket.call("floor.grant", {
            meeting_id: this.#meetingId,
            subject,
            limit_seconds: limitSeconds ?? null,
        });
    }

    /** Put the requests in the order of `subjects` (every request once). */
    reorder(subjects: string[]) {
        return this.#socket.call("floor.reorder", { meeting_id: this.#meetingId, subjects });
    }

    /** The speech log (who spoke, from when to when, how it ended). */
    speeches() {
        return this.#socket.call("floor.speeches", { meeting_id: this.#meetingId });
    }

    revoke(subject: string) {
        return this.#socket.call("floor.revoke", { meeting_id: this.#meetingId, subject });
    }

    mute(subject: string, muted: boolean) {
        return this.#socket.call("floor.mute", { meeting_id: this.#meetingId, subject, muted });
    }
}

/** The request order after moving `subject` one place up (-1) or down (+1); null when it
 * cannot move that way. */
export function moved(order: readonly string[], subject: string, by: -1 | 1): string[] | null {
    const i = order.indexOf(subject);
    const j = i + by;
    if (i < 0 || j < 0 || j >= order.length) return null;
    const next = [...order];
    [next[i], next[j]] = [next[j] ?? subject, next[i] ?? subject];
    return next;
}

/** Seconds from what the chair typed as minutes ("1,5" = 90 s), within the server's
 * 10..14400; null for an empty or unusable entry (no limit). */
export function limitFromMinutes(text: string): number | null {
    const trimmed = text.trim().replace(",", ".");
    if (!trimmed) return null;
    const minutes = Number(trimmed);
    if (!Number.isFinite(minutes) || minutes <= 0) return null;
    return Math.min(14_400, Math.max(10, Math.round(minutes * 60)));
}
