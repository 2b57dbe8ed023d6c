import { describe, expect, it } from "vitest";
import type { MeetingSnapshotOut, VoteOut } from "../generated/wire";
import { fromSnapshot, reduce } from "../meetings/state";
import { FakeSocket } from "../socket/fake";
import { MeetingSocket } from "../socket/socket";
import {
    ReceiptBook,
    ballotProblem,
    bridgePointsVote,
    countedFor,
    deadlineSeconds,
    featured,
    isElector,
    isYesNo,
    namedChoices,
    optionRows,
    parseOptions,
    receiptHash,
    toggled,
    voteCountdown,
    Votes,
    VOTE_WARN_SECONDS,
    YES_NO,
} from "./votes";

const at = "2026-12-01T01:00:00Z";

function vote(over: Partial<VoteOut> = {}): VoteOut {
    return {
        id: 1, meeting_id: 4, agenda_item_id: null, question: "Thông qua kế hoạch?", kind: "open",
        options: [...YES_NO], max_choices: 1, rule: "present", allow_change: false, members: 3, quorum: null,
        state: "open", opened_at: at, opened_by: "user:2", deadline: null, closed_at: null, closed_by: null,
        electors: [{ subject: "user:5", name: "Phạm Thị Ánh" }, { subject: "bridge_point:1", name: "Điểm cầu bp1" }],
        ballots: 0, counts: [0, 0, 0], result: null, ...over,
    };
}

function result(over: Partial<NonNullable<VoteOut["result"]>> = {}): NonNullable<VoteOut["result"]> {
    return {
        counts: [2, 0, 0], ballots: 2, electors: 2, base: 2, required: 2, outcome: "passed", tie: false,
        elected: [], statement: "Thông qua: 2/2 (100,00%) tán thành, cần 2.", named: [], receipts: [], ...over,
    };
}

const snapshot = (votes: VoteOut[]): MeetingSnapshotOut => ({
    meeting: {
        id: 4, unit_id: 1, title: "Giao ban", description: "", state: "live", starts_at: at, ends_at: null,
        chair_id: 2, secretary_id: 3, agenda: [], current_agenda_item_id: null, bridge_point_ids: [1], delegate_ids: [5], seq: 9,
    } as unknown as MeetingSnapshotOut["meeting"],
    presence: [], rollcall: null, floor: [], documents: [], presenting: null, votes,
});

describe("votes in the meeting state", () => {
    it("starts from the snapshot's votes and follows opened, counted and closed", () => {
        const s = fromSnapshot(snapshot([vote({ id: 1, state: "closed", result: result() })]));
        expect(s.votes.map((v) => v.id)).toEqual([1]);
        reduce(s, "vote.opened", { meeting_id: 4, seq: 10, at, vote: vote({ id: 2, kind: "secret", counts: null }) });
        expect(featured(s)?.id).toBe(2);
        reduce(s, "vote.counted", { meeting_id: 4, seq: 11, at, vote_id: 2, ballots: 1, counts: null });
        expect(s.votes[1]?.ballots).toBe(1);
        expect(s.votes[1]?.counts).toBeNull();
        reduce(s, "vote.closed", { meeting_id: 4, seq: 12, at, vote: vote({ id: 2, kind: "secret", state: "closed", counts: null, result: result() }) });
        expect(featured(s)?.id).toBe(2);
        expect(featured(s)?.state).toBe("closed");
    });

    it("features the latest open vote over a later closed one, and none without votes", () => {
        const s = fromSnapshot(snapshot([vote({ id: 1 }), vote({ id: 2, state: "closed", result: result() })]));
        expect(featured(s)?.id).toBe(1);
        expect(featured(fromSnapshot(snapshot([])))).toBeNull();
        expect(featured(null)).toBeNull();
    });
});

describe("figures and results", () => {
    it("shows live counts with shares, none for a secret vote", () => {
        const rows = optionRows(vote({ ballots: 4, counts: [3, 1, 0] }));
        expect(rows.map((r) => [r.count, r.share, r.chosen])).toEqual([[3, 0.75, false], [1, 0.25, false], [0, 0, false]]);
        expect(optionRows(vote({ kind: "secret", ballots: 2, counts: null })).map((r) => r.count)).toEqual([null, null, null]);
        expect(optionRows(vote({ ballots: 0 }))[0]?.share).toBeNull();
    });

    it("marks agree when a yes/no vote passed, the elected options of a list vote", () => {
        const passed = vote({ state: "closed", result: result() });
        expect(optionRows(passed).map((r) => r.chosen)).toEqual([true, false, false]);
        const rejected = vote({ state: "closed", result: result({ outcome: "rejected", counts: [1, 1, 0] }) });
        expect(optionRows(rejected).some((r) => r.chosen)).toBe(false);
        const list = vote({ options: ["Ông A", "Bà B", "Ông C"], max_choices: 2, state: "closed",
            result: result({ outcome: "elected", counts: [2, 0, 2], elected: [0, 2] }) });
        expect(isYesNo(list)).toBe(false);
        expect(optionRows(list).map((r) => r.chosen)).toEqual([true, false, true]);
    });

    it("lists a named vote's choices by name", () => {
        const named = vote({ kind: "named", state: "closed", result: result({ named: [
            { subject: "user:5", name: "Phạm Thị Ánh", choice: [1] },
            { subject: "bridge_point:1", name: "Điểm cầu bp1", choice: [] },
        ] }) });
        expect(namedChoices(named)).toEqual([
            { subject: "user:5", name: "Phạm Thị Ánh", options: ["Không tán thành"] },
            { subject: "bridge_point:1", name: "Điểm cầu bp1", options: [] },
        ]);
    });

    it("knows the electors, and whether bridge points vote", () => {
        expect(isElector(vote(), "user:5")).toBe(true);
        expect(isElector(vote(), "user:6")).toBe(false);
        expect(isElector(vote(), null)).toBe(false);
        expect(bridgePointsVote(vote())).toBe(true);
        expect(bridgePointsVote(vote({ electors: [{ subject: "user:5", name: "A" }] }))).toBe(false);
    });
});

describe("ballots", () => {
    it("replaces the choice in a one-choice vote, adds and removes in a list vote", () => {
        const one = vote();
        expect(toggled(one, [0], 2)).toEqual([2]);
        const list = vote({ options: ["A", "B", "C"], max_choices: 2 });
        expect(toggled(list, [2], 0)).toEqual([0, 2]);
        expect(toggled(list, [0, 2], 2)).toEqual([0]);
        expect(ballotProblem(list, [])).toBe("none");
        expect(ballotProblem(list, [0, 1, 2])).toBe("tooMany");
        expect(ballotProblem(list, [0, 1])).toBeNull();
    });

    it("reads the chair's options and deadline", () => {
        expect(parseOptions(" Ông A \n\nBà B\n")).toEqual(["Ông A", "Bà B"]);
        expect(deadlineSeconds("")).toBeNull();
        expect(deadlineSeconds("0")).toBeNull();
        expect(deadlineSeconds("2")).toBe(120);
        expect(deadlineSeconds("0,5")).toBe(30);
        expect(deadlineSeconds("0.1")).toBe("bad");
        expect(deadlineSeconds("abc")).toBe("bad");
        expect(deadlineSeconds("2000")).toBe("bad");
    });
});

describe("secret receipts", () => {
    it("hashes like the server and finds the receipt under its option", async () => {
        // python: hashlib.sha256(b"7:7F3A-09C2-D1E4-88B0").hexdigest()
        const h = await receiptHash(7, "7F3A-09C2-D1E4-88B0");
        expect(h).toBe("1dcc361815dcb13528b613bf33aa1bcc646d3c894a15597ecb0630e2a2b47b62");
        const closed = vote({ id: 7, kind: "secret", state: "closed", result: result({ receipts: [["x"], [h, "y"], []] }) });
        expect(countedFor(closed, h)).toEqual([1]);
        expect(countedFor(closed, "z")).toEqual([]);
        expect(countedFor(vote({ id: 7, kind: "secret" }), h)).toBeNull();
    });

    it("keeps receipts per voter and vote, and survives a storage that refuses", () => {
        const data = new Map<string, string>();
        const book = new ReceiptBook({ getItem: (k) => data.get(k) ?? null, setItem: (k, v) => { data.set(k, v); } });
        book.keep("user:5", 7, "AAAA-BBBB");
        expect(book.of("user:5", 7)).toBe("AAAA-BBBB");
        expect(book.of("user:6", 7)).toBeNull();
        const broken = new ReceiptBook({ getItem: () => { throw new Error("no"); }, setItem: () => { throw new Error("no"); } });
        broken.keep("user:5", 7, "x");
        expect(broken.of("user:5", 7)).toBeNull();
    });
});

describe("vote commands", () => {
    it("sends open, cast, close and status for the meeting", async () => {
        const fake = new FakeSocket();
        fake.server = () => ({ ok: true, data: {} });
        const votes = new Votes(new MeetingSocket("t", { socket: fake }), 4);
        fake.connect();
        await votes.open({ question: "Q?", kind: "secret" });
        await votes.cast(7, [1]);
        await votes.close(7);
        await votes.status(7);
        expect(fake.sent).toEqual([
            ["vote.open", { question: "Q?", kind: "secret", meeting_id: 4 }],
            ["vote.cast", { meeting_id: 4, vote_id: 7, choice: [1], receipt: null }],
            ["vote.close", { meeting_id: 4, vote_id: 7 }],
            ["vote.status", { meeting_id: 4, vote_id: 7 }],
        ]);
    });
});

describe("a vote's countdown", () => {
    const deadline = "2026-12-01T01:05:00Z";
    const end = Date.parse(deadline);

    it("counts down on the server's clock to the deadline, warning in the last 30 s", () => {
        const v = vote({ deadline });
        expect(voteCountdown(v, end - 125_000)).toEqual({ kind: "remaining", seconds: 125, warn: false });
        expect(voteCountdown(v, end - (VOTE_WARN_SECONDS + 1) * 1000)).toEqual({ kind: "remaining", seconds: 31, warn: false });
        expect(voteCountdown(v, end - 29_400)).toEqual({ kind: "remaining", seconds: 30, warn: true });
        expect(voteCountdown(v, end - 300)).toEqual({ kind: "remaining", seconds: 1, warn: true });
    });

    it("says the time is up at the deadline but leaves the closing to the server's event", () => {
        const v = vote({ deadline });
        expect(voteCountdown(v, end)).toEqual({ kind: "due" });
        expect(voteCountdown(v, end + 4_000)).toEqual({ kind: "due" });
        expect(v.state).toBe("open"); // only vote.closed closes it
        expect(voteCountdown({ ...v, state: "closed" }, end - 60_000)).toBeNull();
        expect(voteCountdown(vote({ deadline: null }), end)).toBeNull();
    });
});
