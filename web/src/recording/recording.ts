// Recording a meeting ("ghi hình"): what the chair may do with it and what every screen shows
// while it runs. The state is the stream's (`recording.started` / `recording.stopped`), never
// assumed from a click: another chair tab may stop it, the meeting's end stops it.

import type { MeetingState } from "../meetings/state";

/** The meeting states in which the server lets the chair record (the meeting is held). */
const HELD: ReadonlySet<MeetingState["meeting"]["state"]> = new Set(["open", "live", "paused"]);

/** What the chair's control offers: start, stop, or nothing now (the meeting is not held). */
export type RecordingAction = "start" | "stop" | null;

export function recordingAction(state: MeetingState): RecordingAction {
    if (state.recording) return "stop";
    return HELD.has(state.meeting.state) ? "start" : null;
}

/** Whole seconds the recording has run at `now` (ms on the server's clock); 0 before it. */
export function recordingSeconds(recording: NonNullable<MeetingState["recording"]>, now: number): number {
    return Math.max(0, Math.floor((now - Date.parse(recording.since)) / 1000));
}

/** A recording's running time as a clock reads it: `00:12:34` (hours always shown). */
export function clockText(seconds: number): string {
    const s = Math.max(0, Math.floor(seconds));
    const two = (n: number) => String(n).padStart(2, "0");
    return `${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}
