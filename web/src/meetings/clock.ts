// Deadlines the server sets (a speaking-time limit, a vote's time limit), counted down on the
// server's clock: a screen whose own clock is off (a kiosk without time sync) still shows
// the right time left.

/** Something that knows the server's clock (a meeting's stream: `MeetingStream.serverNow`). */
export interface ServerClock {
    serverNow(now?: number): number;
}

/** What is left before a deadline: whole seconds, rounded up (a warning in the last few), or
 * the seconds over once it has passed. */
export type TimeLeft =
    | { kind: "remaining"; seconds: number; warn: boolean }
    | { kind: "overtime"; seconds: number };

/** The time left before `deadline` (ISO) at `now` (ms on the server's clock); `warn` in the
 * last `warnSeconds`. */
export function timeLeft(deadline: string, now: number, warnSeconds: number): TimeLeft {
    const left = (Date.parse(deadline) - now) / 1000;
    if (left < 0) return { kind: "overtime", seconds: Math.floor(-left) };
    const seconds = Math.ceil(left);
    return { kind: "remaining", seconds, warn: seconds <= warnSeconds };
}

/** Now on `clock` (the server's), or on this screen's clock without one. */
export function serverTime(clock: ServerClock | null | undefined, local: number): number {
    return clock ? clock.serverNow(local) : local;
}
