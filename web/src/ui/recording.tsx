// "● Đang ghi hình": shown on every screen while the meeting is recorded, so that the people
// in the room know; the chair's console shows for how long (on the server's clock).

import { t } from "../i18n/i18n";
import type { ServerClock } from "../meetings/clock";
import type { MeetingState } from "../meetings/state";
import { clockText, recordingSeconds } from "../recording/recording";
import { useServerNow } from "./hooks";

/** The notice while `state` says a recording runs; nothing otherwise. With `clock`, the
 * time it has run (`● Đang ghi hình 00:12:34`). */
export function RecordingNotice(props: { state: MeetingState; clock?: ServerClock | null | undefined; big?: boolean }) {
    const rec = props.state.recording;
    if (!rec) return null;
    const cls = `recording${props.big ? " big" : ""}`;
    // the notice is announced once as it appears; a running time is a timer (not announced)
    if (props.clock === undefined) return <span class={cls} role="status" data-recording="on">{t("recording.on")}</span>;
    return <Elapsed cls={cls} since={rec} clock={props.clock} />;
}

function Elapsed(props: { cls: string; since: NonNullable<MeetingState["recording"]>; clock: ServerClock | null }) {
    const now = useServerNow(props.clock, 500);
    const time = clockText(recordingSeconds(props.since, now));
    return <span class={props.cls} role="timer" data-recording="on" data-elapsed={time}>{t("recording.onFor", { time })}</span>;
}
