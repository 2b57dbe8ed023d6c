import { describe, expect, it } from "vitest";
import type { MeetingSnapshotOut } from "../generated/wire";
import { fromSnapshot, reduce, type MeetingState } from "../meetings/state";
import { clockText, recordingAction, recordingSeconds } from "./recording";

function state(
    meetingState: MeetingState["meeting"]["state"], recording: MeetingSnapshotOut["recording"] = null,
): MeetingState {
    const snapshot: MeetingSnapshotOut = {
        meeting: {
            id: 1, title: "Giao ban", description: "", state: meetingState, unit_id: 2, chair_id: 3, secretary_id: null,
            starts_at: "2026-12-01T01:00:00Z", ends_at: null, seq: 4, current_agenda_item_id: null,
            bridge_point_ids: [], delegate_ids: [], agenda: [],
        },
        presence: [],
        floor: [],
        rollcall: null,
        recording,
    };
    return fromSnapshot(snapshot);
}

const since = "2026-12-01T01:00:00Z";
const started = { meeting_id: 1, seq: 5, at: since, file: "meeting-1-20261201T010000Z" };
const stopped = { meeting_id: 1, seq: 6, at: "2026-12-01T01:12:34Z", file: "meeting-1-20261201T010000Z.webm", duration_seconds: 754, bytes: 1000, document_id: 9 };

describe("the chair's recording control", () => {
    it("offers start only while the meeting is held", () => {
        for (const s of ["open", "live", "paused"] as const) expect(recordingAction(state(s)), s).toBe("start");
        for (const s of ["draft", "scheduled", "ended"] as const) expect(recordingAction(state(s)), s).toBeNull();
    });

    it("follows the events: stop while recording, start again once stopped (by anyone)", () => {
        const s = state("live");
        reduce(s, "recording.started", started);
        expect(s.recording).toEqual({ file: started.file, since });
        expect(recordingAction(s)).toBe("stop");
        reduce(s, "recording.stopped", stopped);
        expect(s.recording).toBeNull();
        expect(recordingAction(s)).toBe("start");
    });

    it("knows from the snapshot a recording that began before the screen joined", () => {
        const s = state("live", { file: started.file, since });
        expect(s.recording).toEqual({ file: started.file, since });
        expect(recordingAction(s)).toBe("stop");
        reduce(s, "recording.stopped", stopped);
        expect(recordingAction(s)).toBe("start");
    });

    it("does not assume the meeting's end stopped it: the server's recording.stopped does", () => {
        const s = state("live");
        reduce(s, "recording.started", started);
        reduce(s, "meeting.ended", { meeting_id: 1, seq: 6, at: stopped.at, state: "ended", previous_state: "live", by: "user:3" });
        expect(recordingAction(s)).toBe("stop");
        reduce(s, "recording.stopped", { ...stopped, seq: 7 });
        expect(recordingAction(s)).toBeNull();
    });
});

describe("the recording's running time", () => {
    it("counts from the event's time on the server's clock", () => {
        const rec = { file: "x", since };
        const t0 = Date.parse(since);
        expect(recordingSeconds(rec, t0)).toBe(0);
        expect(recordingSeconds(rec, t0 - 3_000)).toBe(0); // a clock a little behind the event
        expect(recordingSeconds(rec, t0 + 754_900)).toBe(754);
    });

    it("reads as a clock with hours", () => {
        expect(clockText(0)).toBe("00:00:00");
        expect(clockText(754)).toBe("00:12:34");
        expect(clockText(3 * 3600 + 5)).toBe("03:00:05");
        expect(clockText(-2)).toBe("00:00:00");
    });
});
