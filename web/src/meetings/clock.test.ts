import { describe, expect, it } from "vitest";
import { serverTime, timeLeft } from "./clock";
import { MeetingStream } from "./stream";

const deadline = "2026-12-01T01:02:00Z";
const at = Date.parse(deadline);

describe("time left before a server deadline", () => {
    it("rounds the seconds up, warns in the last ones, then counts the seconds over", () => {
        expect(timeLeft(deadline, at - 90_000, 10)).toEqual({ kind: "remaining", seconds: 90, warn: false });
        expect(timeLeft(deadline, at - 10_500, 10)).toEqual({ kind: "remaining", seconds: 11, warn: false });
        expect(timeLeft(deadline, at - 9_500, 10)).toEqual({ kind: "remaining", seconds: 10, warn: true });
        expect(timeLeft(deadline, at, 10)).toEqual({ kind: "remaining", seconds: 0, warn: true });
        expect(timeLeft(deadline, at + 5_200, 10)).toEqual({ kind: "overtime", seconds: 5 });
    });

    it("reads the server's clock from the stream, this screen's without one", () => {
        const behind = new MeetingStream();
        // a kiosk whose clock is 7 minutes behind: its events arrive "before" they were sent
        // (the quickest one 40 ms on the way, taken as part of the offset)
        const sent = at - 60_000;
        behind.observe(new Date(sent).toISOString(), sent - 420_000 + 40);
        const local = at - 420_000 - 20_000; // 20 s before the deadline, on its own clock
        expect(serverTime(behind, local)).toBe(at - 20_000 - 40);
        expect(timeLeft(deadline, serverTime(behind, local), 10)).toEqual({ kind: "remaining", seconds: 21, warn: false });
        expect(serverTime(null, local)).toBe(local);
        expect(timeLeft(deadline, serverTime(undefined, local), 10).seconds).toBe(440); // what it would show unaided
    });
});
