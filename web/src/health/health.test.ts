import { describe, expect, it } from "vitest";
import type { MediaHealthOut } from "../generated/wire";
import { pickMeeting, transitions } from "../meetings/meetings";
import { HealthHistory, quality, sparkline } from "./health";

function h(subject: string, over: Partial<MediaHealthOut> = {}): MediaHealthOut {
    return {
        subject, connection: "c", role: "bridge_point", state: "connected", measured_at: "2026-12-01T01:00:00Z",
        bitrate_in: 500_000, bitrate_out: 300_000, loss_in: 0, loss_out: 0, jitter_in_ms: 3, jitter_out_ms: 3,
        rtt_ms: 20, fps_in: 25, fps_out: 25, last_keyframe_at: null, ...over,
    };
}

describe("link health", () => {
    it("grades a link by loss and round trip", () => {
        expect(quality(h("a"))).toBe("good");
        expect(quality(h("a", { loss_in: 0.05 }))).toBe("fair");
        expect(quality(h("a", { rtt_ms: 900 }))).toBe("poor");
        expect(quality(h("a", { state: "new" }))).toBe("unknown");
        expect(quality(undefined)).toBe("unknown");
    });

    it("keeps a few minutes of history per subject", () => {
        const hist = new HealthHistory(60_000);
        hist.add([h("bridge_point:1")], 0);
        hist.add([h("bridge_point:1", { bitrate_in: 100 })], 30_000);
        hist.add([h("bridge_point:1", { bitrate_in: 200 })], 90_000);
        expect(hist.samples.get("bridge_point:1")?.map((s) => s.bitrate)).toEqual([100, 200]);
        expect(hist.latest.get("bridge_point:1")?.bitrate_in).toBe(200);
    });

    it("draws a sparkline in its box", () => {
        expect(sparkline([0, 5, 10], 100, 20)).toBe("0.0,20.0 50.0,10.0 100.0,0.0");
        expect(sparkline([], 100, 20)).toBe("");
        expect(sparkline([4], 100, 20)).toBe("0.0,0.0 100.0,0.0");
    });
});

describe("meetings", () => {
    const m = (id: number, state: MediaHealthOut["state"], starts_at: string) => ({
        id, state: state as "live", starts_at, title: "", unit_id: 1, chair_id: null, secretary_id: null, ends_at: null,
    });

    it("follows the live meeting first, then paused, then open", () => {
        expect(pickMeeting([m(1, "open", "2026-01-01"), m(2, "live", "2026-01-02")])?.id).toBe(2);
        expect(pickMeeting([m(3, "ended", "2026-01-01"), m(4, "draft", "2026-01-01")])).toBeNull();
        expect(pickMeeting([m(5, "open", "2026-01-03"), m(6, "open", "2026-01-02")])?.id).toBe(6);
    });

    it("offers the chair only the state changes the server allows", () => {
        expect(transitions("draft")).toEqual(["open"]);
        expect(transitions("open")).toEqual(["start", "end"]);
        expect(transitions("live")).toEqual(["pause", "end"]);
        expect(transitions("ended")).toEqual([]);
    });
});
