// The speaking timer and the speaker's name, shared by the chair, bridge-point and delegate views.

import { speakingTimer } from "../floor/floor";
import { formatDuration, t } from "../i18n/i18n";
import type { FloorEntry } from "../meetings/state";
import { useNow } from "./hooks";

export function SpeakTimer(props: { entry: FloorEntry }) {
    const now = useNow(500);
    const timer = speakingTimer(props.entry, now);
    if (!timer) return null;
    const time = formatDuration(timer.seconds);
    const text =
        timer.kind === "remaining" ? t("floor.remaining", { time })
        : timer.kind === "overtime" ? t("floor.overtime", { time })
        : t("floor.elapsed", { time });
    return (
        <span class={`timer ${timer.kind === "overtime" ? "bad" : ""}`} role="timer" data-timer={timer.kind}>
            {text}
        </span>
    );
}
