// Votes (biểu quyết): which vote a screen shows, its live figures and result, a ballot's
// checks, the secret receipt and its check against the published tally, and the commands.

import type { BallotOut, CommandPayload, VoteOut, VoterStatusOut } from "../generated/wire";
import { timeLeft } from "../meetings/clock";
import type { MeetingState } from "../meetings/state";
import type { MeetingSocket } from "../socket/socket";

/** What the chair's form sends to open a vote (the meeting is the panel's). */
export type VoteSpec = Omit<CommandPayload<"vote.open">, "meeting_id">;
export type VoteKind = VoteOut["kind"];
export type MajorityRule = VoteOut["rule"];
export type Outcome = NonNullable<VoteOut["result"]>["outcome"];

/** The server's agree / disagree / abstain, in its order (a vote opened without options). */
export const YES_NO = ["Tán thành", "Không tán thành", "Không biểu quyết"] as const;

export function isYesNo(vote: Pick<VoteOut, "options" | "max_choices">): boolean {
    return vote.max_choices === 1 && vote.options.length === YES_NO.length && vote.options.every((o, i) => o === YES_NO[i]);
}

export function openVotes(s: MeetingState | null): VoteOut[] {
    return s ? s.votes.filter((v) => v.state === "open") : [];
}

/** The vote a room screen or a delegate sees now: the latest one still open, else the
 * latest closed one (its result), else none. */
export function featured(s: MeetingState | null): VoteOut | null {
    if (!s || s.votes.length === 0) return null;
    const open = openVotes(s);
    return open.at(-1) ?? s.votes.at(-1) ?? null;
}

export function isElector(vote: VoteOut, subject: string | null): boolean {
    return subject !== null && vote.electors.some((e) => e.subject === subject);
}

/** May bridge points vote in it (some elector is one)? */
export function bridgePointsVote(vote: VoteOut): boolean {
    return vote.electors.some((e) => e.subject.startsWith("bridge_point:"));
}

/** One option's line in a live count or a result. */
export interface OptionRow {
    index: number;
    option: string;
    /** null while a secret vote is open (nobody sees its counts before it closes). */
    count: number | null;
    /** The share of those who voted, 0..1 (null with no count or no ballot). */
    share: number | null;
    /** Passed (agree on a yes/no vote that passed) or elected (a list vote). */
    chosen: boolean;
}

/** The rows a screen shows for `vote`: live counts while open (none for a secret vote),
 * the counts of the result once closed. */
export function optionRows(vote: VoteOut): OptionRow[] {
    const result = vote.result;
    const counts = result?.counts ?? vote.counts ?? null;
    const ballots = result?.ballots ?? vote.ballots;
    const chosen = new Set<number>(result ? (isYesNo(vote) ? (result.outcome === "passed" ? [0] : []) : result.elected) : []);
    return vote.options.map((option, index) => {
        const count = counts?.[index] ?? null;
        return {
            index,
            option,
            count,
            share: count === null || ballots === 0 ? null : count / ballots,
            chosen: chosen.has(index),
        };
    });
}

/** A named vote's result: each elector with the options they chose (empty: did not vote). */
export function namedChoices(vote: VoteOut): { subject: string; name: string; options: string[] }[] {
    return (vote.result?.named ?? []).map((n) => ({
        subject: n.subject,
        name: n.name,
        options: n.choice.map((i) => vote.options[i] ?? String(i)),
    }));
}

/** Why a ballot cannot be sent yet, or null: it can. */
export function ballotProblem(vote: VoteOut, picked: readonly number[]): "none" | "tooMany" | null {
    if (picked.length === 0) return "none";
    if (picked.length > vote.max_choices) return "tooMany";
    return null;
}

/** Toggle option `index` in `picked`: a one-choice vote replaces, a list vote adds or takes
 * away (up to its maximum: one more is refused by {@link ballotProblem}). */
export function toggled(vote: VoteOut, picked: readonly number[], index: number): number[] {
    if (vote.max_choices === 1) return [index];
    return picked.includes(index) ? picked.filter((i) => i !== index) : [...picked, index].sort((a, b) => a - b);
}

/** The options of the chair's list, one a line (blank lines dropped). */
export function parseOptions(text: string): string[] {
    return text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
}

/** The deadline in seconds from the chair's minutes ("" or 0: none); null when it is not
 * a number the server takes (10 s .. 24 h). */
export function deadlineSeconds(minutes: string): number | null | "bad" {
    const text = minutes.trim().replace(",", ".");
    if (text === "" || text === "0") return null;
    const n = Number(text);
    if (!Number.isFinite(n)) return "bad";
    const seconds = Math.round(n * 60);
    return seconds >= 10 && seconds <= 24 * 3600 ? seconds : "bad";
}

/** The last seconds of a vote's time limit, shown as a warning. */
export const VOTE_WARN_SECONDS = 30;

/** What a vote's countdown shows: the time left to vote, or (`due`) that the time is up and
 * the result is awaited. A screen never closes the vote by this: the server closes it at its
 * deadline and its `vote.closed` event brings the result. */
export type VoteCountdown = { kind: "remaining"; seconds: number; warn: boolean } | { kind: "due" };

/** The countdown of `vote` at `now` (ms on the server's clock: `MeetingStream.serverNow`);
 * null for a vote without a time limit or no longer open. */
export function voteCountdown(vote: Pick<VoteOut, "state" | "deadline">, now: number): VoteCountdown | null {
    if (vote.state !== "open" || !vote.deadline) return null;
    const left = timeLeft(vote.deadline, now, VOTE_WARN_SECONDS);
    return left.kind === "remaining" && left.seconds > 0 ? left : { kind: "due" };
}

/** What the result publishes for a secret ballot's receipt: SHA-256 (hex) of
 * `<vote_id>:<receipt>` (the server's `receipt_hash`). */
export async function receiptHash(voteId: number, receipt: string): Promise<string> {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${String(voteId)}:${receipt}`));
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The options whose published receipts hold `hash` (the voter's own check); empty when the
 * receipt is not counted, null while the vote has no result. */
export function countedFor(vote: VoteOut, hash: string): number[] | null {
    const receipts = vote.result?.receipts;
    if (!receipts) return null;
    return receipts.flatMap((hashes, i) => (hashes.includes(hash) ? [i] : []));
}

/** Receipts kept for this tab only (sessionStorage): a reload still shows the voter their
 * code, closing the tab forgets it; never sent anywhere. */
export class ReceiptBook {
    readonly #storage: Pick<Storage, "getItem" | "setItem"> | null;

    constructor(storage: Pick<Storage, "getItem" | "setItem"> | null = typeof sessionStorage === "undefined" ? null : sessionStorage) {
        this.#storage = storage;
    }

    #key(subject: string, voteId: number): string {
        return `meetingd.receipt.${subject}.${String(voteId)}`;
    }

    keep(subject: string, voteId: number, receipt: string): void {
        try {
            this.#storage?.setItem(this.#key(subject, voteId), receipt);
        } catch {
            /* private mode: shown on screen only */
        }
    }

    of(subject: string, voteId: number): string | null {
        try {
            return this.#storage?.getItem(this.#key(subject, voteId)) ?? null;
        } catch {
            return null;
        }
    }
}

/** The vote commands of one meeting. */
export class Votes {
    readonly #socket: MeetingSocket;
    readonly #meetingId: number;

    constructor(socket: MeetingSocket, meetingId: number) {
        this.#socket = socket;
        this.#meetingId = meetingId;
    }

    open(spec: VoteSpec): Promise<VoteOut> {
        return this.#socket.call("vote.open", { ...spec, meeting_id: this.#meetingId });
    }

    /** Cast (committed before it is answered); a secret vote answers a receipt. */
    cast(voteId: number, choice: number[], receipt?: string | null): Promise<BallotOut> {
        return this.#socket.call("vote.cast", { meeting_id: this.#meetingId, vote_id: voteId, choice, receipt: receipt ?? null });
    }

    close(voteId: number): Promise<VoteOut> {
        return this.#socket.call("vote.close", { meeting_id: this.#meetingId, vote_id: voteId });
    }

    /** Whether the caller may vote and has voted (for a screen back in the middle of a vote). */
    status(voteId: number): Promise<VoterStatusOut> {
        return this.#socket.call("vote.status", { meeting_id: this.#meetingId, vote_id: voteId });
    }

    list(): Promise<VoteOut[]> {
        return this.#socket.call("vote.list", { meeting_id: this.#meetingId });
    }
}
