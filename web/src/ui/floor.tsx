// The speaking timer, shared by the chair, bridge-point and delegate views: a countdown to the
// deadline when the chair gave a speaking time (a warning in the last 10 s, "time up" until the
// server takes the floor back), else the time spoken.

import { speakingTimer } from "../floor/floor";
import { formatDuration, t } from "../i18n/i18n";
import type { FloorEntry } from "../meetings/state";
import { useNow } from "./hooks";

/** Something that knows the server's clock (a meeting's stream). */
export interface ServerClock {
    serverNow(now?: number): number;
}

export function SpeakTimer(props: { entry: FloorEntry; clock?: ServerClock | null | undefined }) {
    const local = useNow(250);
    const now = props.clock ? props.clock.serverNow(local) : local;
    const timer = speakingTimer(props.entry, now);
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
