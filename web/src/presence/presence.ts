// Who is connected to the meeting, by subject (`bridge_point:3`, `user:5`).

import type { PresenceOut } from "../generated/wire";
import type { MeetingState } from "../meetings/state";

export function subjectOf(p: Pick<PresenceOut, "kind" | "id">): string {
    return `${p.kind}:${String(p.id)}`;
}

export function onlineSubjects(s: MeetingState | null): Set<string> {
    return new Set((s?.presence ?? []).map(subjectOf));
}

export function isOnline(s: MeetingState | null, subject: string): boolean {
    return (s?.presence ?? []).some((p) => subjectOf(p) === subject);
}

/** The chair's subject, if the meeting has one. */
export function chairSubject(s: MeetingState | null): string | null {
    return s?.meeting.chair_id ? `user:${String(s.meeting.chair_id)}` : null;
}

/** A display name for a subject: from presence, else from the floor, else null. */
export function nameOf(s: MeetingState | null, subject: string | null): string | null {
    if (!s || !subject) return null;
    const p = s.presence.find((x) => subjectOf(x) === subject);
    if (p) return p.name;
    return s.floor.find((e) => e.subject === subject)?.name ?? null;
}
