// The roll call (điểm danh): counts while it is open, the result and quorum once closed.

import type { RollCallOut } from "../generated/wire";
import type { MeetingState } from "../meetings/state";
import type { MeetingSocket } from "../socket/socket";

export interface RollCallSummary {
    open: boolean;
    answered: number;
    people: number;
    confirmed: number;
    bridgePointsInvited: number;
    delegatesInvited: number;
    quorum: { reached: boolean; present: number; required: number } | null;
}

/** The figures a screen shows; `null` when the meeting has had no roll call. */
export function summary(s: MeetingState | null): RollCallSummary | null {
    const rc = s?.rollcall;
    if (!s || !rc) return null;
    const result = rc.result;
    return {
        open: rc.state === "open",
        answered: rc.answers.length,
        people: rc.answers.reduce((n, a) => n + a.count, 0),
        confirmed: rc.confirmations.length,
        bridgePointsInvited: s.meeting.bridge_point_ids.length,
        delegatesInvited: s.meeting.delegate_ids.length,
        quorum: result ? { reached: result.quorum.reached, present: result.quorum.present, required: result.quorum.required } : null,
    };
}

export function myAnswer(rc: RollCallOut | null | undefined, bridgePointId: number): number | null {
    return rc?.answers.find((a) => a.bridge_point_id === bridgePointId)?.count ?? null;
}

export function confirmedBy(rc: RollCallOut | null | undefined, userId: number): boolean {
    return rc?.confirmations.some((c) => c.user_id === userId) ?? false;
}

export class RollCall {
    readonly #socket: MeetingSocket;
    readonly #meetingId: number;

    constructor(socket: MeetingSocket, meetingId: number) {
        this.#socket = socket;
        this.#meetingId = meetingId;
    }

    start() {
        return this.#socket.call("rollcall.start", { meeting_id: this.#meetingId });
    }

    close() {
        return this.#socket.call("rollcall.close", { meeting_id: this.#meetingId });
    }

    answer(count: number) {
        return this.#socket.call("rollcall.answer", { meeting_id: this.#meetingId, count });
    }

    confirm() {
        return this.#socket.call("rollcall.confirm", { meeting_id: this.#meetingId });
    }
}
