// The speaking timer, shared by the chair, bridge-point and delegate views: a countdown to the
// deadline when the chair gave a speaking time (a warning in the last 10 s, "time up" until the
// server takes the floor back), else the time spoken.

import { speakingTimer } from "../floor/floor";
import { formatDuration, t } from "../i18n/i18n";
import type { ServerClock } from "../meetings/clock";
import type { FloorEntry } from "../meetings/state";
import { useServerNow } from "./hooks";

export function SpeakTimer(props: { entry: FloorEntry; clock?: ServerClock | null | undefined }) {
    const timer = speakingTimer(props.entry, useServerNow(props.clock, 250));
    if (!timer) return null;
    const time = formatDuration(timer.seconds);
    const [text, kind] =
        timer.kind === "remaining"
            ? timer.warn ? [t("floor.remainingWarn", { time }), "warning"] : [t("floor.remaining", { time }), "remaining"]
            : timer.kind === "overtime" ? [t("floor.timeUp"), "overtime"]
            : [t("floor.elapsed", { time }), "elapsed"];
    return (
        <span class={`timer ${kind}`} role="timer" data-timer={kind} data-subject={props.entry.subject}>
            {text}
        </span>
    );
}
