import { describe, expect, it } from "vitest";
import { FakeSocket } from "../socket/fake";
import { MeetingSocket } from "../socket/socket";
import { Floor, limitFromMinutes, moved, speakingTimer } from "./floor";

const entry = { subject: "user:5", name: "Phạm Thị Ánh", state: "granted" as const, requested_at: "2026-12-01T01:00:00Z", granted_at: "2026-12-01T01:00:00Z", muted: false };

describe("speaking timer", () => {
    it("counts down to the deadline, then over it", () => {
        const e = { ...entry, deadline: "2026-12-01T01:02:00Z" };
        expect(speakingTimer(e, Date.parse("2026-12-01T01:00:30Z"))).toEqual({ kind: "remaining", seconds: 90, warn: false });
        expect(speakingTimer(e, Date.parse("2026-12-01T01:01:49.5Z"))).toEqual({ kind: "remaining", seconds: 11, warn: false });
        expect(speakingTimer(e, Date.parse("2026-12-01T01:01:50.5Z"))).toEqual({ kind: "remaining", seconds: 10, warn: true });
        expect(speakingTimer(e, Date.parse("2026-12-01T01:02:05Z"))).toEqual({ kind: "overtime", seconds: 5 });
    });

    it("shows the time since granted_at without a deadline", () => {
        expect(speakingTimer(entry, Date.parse("2026-12-01T01:01:05Z"))).toEqual({ kind: "elapsed", seconds: 65 });
        expect(speakingTimer({ ...entry, granted_at: null, state: "requested" }, 0)).toBeNull();
    });
});

describe("floor commands", () => {
    it("sends the speaking limit (null: none) and the new queue order", async () => {
        const fake = new FakeSocket();
        fake.server = () => ({ ok: true, data: entry });
        const floor = new Floor(new MeetingSocket("t", { socket: fake }), 4);
        fake.connect();
        await floor.grant("user:5");
        await floor.grant("user:5", 120);
        await floor.mute("user:5", true);
        fake.server = () => ({ ok: true, data: [] });
        await floor.reorder(["user:6", "user:5"]);
        expect(fake.sent).toEqual([
            ["floor.grant", { meeting_id: 4, subject: "user:5", limit_seconds: null }],
            ["floor.grant", { meeting_id: 4, subject: "user:5", limit_seconds: 120 }],
            ["floor.mute", { meeting_id: 4, subject: "user:5", muted: true }],
            ["floor.reorder", { meeting_id: 4, subjects: ["user:6", "user:5"] }],
        ]);
    });

    it("throws the server's refusal", async () => {
        const fake = new FakeSocket();
        fake.server = () => ({ ok: false, error: { code: "forbidden", message: "no" } });
        const floor = new Floor(new MeetingSocket("t", { socket: fake }), 4);
        fake.connect();
        await expect(floor.request()).rejects.toMatchObject({ error: { code: "forbidden" } });
    });
});

describe("queue order and limits", () => {
    it("moves a request one place, not past either end", () => {
        expect(moved(["a", "b", "c"], "c", -1)).toEqual(["a", "c", "b"]);
        expect(moved(["a", "b", "c"], "a", 1)).toEqual(["b", "a", "c"]);
        expect(moved(["a", "b", "c"], "a", -1)).toBeNull();
        expect(moved(["a", "b", "c"], "c", 1)).toBeNull();
        expect(moved(["a"], "x", 1)).toBeNull();
    });

    it("reads minutes as the chair types them, within the server's bounds", () => {
        expect(limitFromMinutes("1")).toBe(60);
        expect(limitFromMinutes("1,5")).toBe(90);
        expect(limitFromMinutes(" ")).toBeNull();
        expect(limitFromMinutes("abc")).toBeNull();
        expect(limitFromMinutes("0.05")).toBe(10);
        expect(limitFromMinutes("1000")).toBe(14_400);
    });
});
