import { describe, expect, it } from "vitest";
import { FakeSocket } from "../socket/fake";
import { MeetingSocket } from "../socket/socket";
import { Floor, speakingTimer } from "./floor";

const entry = { subject: "user:5", name: "Phạm Thị Ánh", state: "granted" as const, requested_at: "2026-12-01T01:00:00Z", granted_at: "2026-12-01T01:00:00Z", muted: false };

describe("speaking timer", () => {
    it("counts down to the deadline, then over it", () => {
        const e = { ...entry, deadline: "2026-12-01T01:02:00Z" };
        expect(speakingTimer(e, Date.parse("2026-12-01T01:00:30Z"))).toEqual({ kind: "remaining", seconds: 90 });
        expect(speakingTimer(e, Date.parse("2026-12-01T01:02:05Z"))).toEqual({ kind: "overtime", seconds: 5 });
    });

    it("shows the time since granted_at without a deadline", () => {
        expect(speakingTimer(entry, Date.parse("2026-12-01T01:01:05Z"))).toEqual({ kind: "elapsed", seconds: 65 });
        expect(speakingTimer({ ...entry, granted_at: null, state: "requested" }, 0)).toBeNull();
    });
});

describe("floor commands", () => {
    it("sends a speaking limit only when one is given", async () => {
        const fake = new FakeSocket();
        fake.server = () => ({ ok: true, data: entry });
        const floor = new Floor(new MeetingSocket("t", { socket: fake }), 4);
        fake.connect();
        await floor.grant("user:5");
        await floor.grant("user:5", 120);
        await floor.mute("user:5", true);
        expect(fake.sent).toEqual([
            ["floor.grant", { meeting_id: 4, subject: "user:5" }],
            ["floor.grant", { meeting_id: 4, subject: "user:5", limit_seconds: 120 }],
            ["floor.mute", { meeting_id: 4, subject: "user:5", muted: true }],
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
