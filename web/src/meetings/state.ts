// A meeting as a screen holds it: the join snapshot, then each stream event applied in `seq`
// order. `REDUCERS` has one entry per stream event (a missing one fails tsc).

import type {
    Events,
    FloorEntryOut,
    MeetingOut,
    MeetingSnapshotOut,
    PresenceOut,
    RollCallOut,
    StreamEventName,
} from "../generated/wire";

/** A floor entry (its `deadline` is set when the chair gave a speaking-time limit). */
export type FloorEntry = FloorEntryOut;

export interface MeetingState {
    meeting: MeetingOut;
    presence: PresenceOut[];
    floor: FloorEntry[];
    rollcall: RollCallOut | null;
}

export function fromSnapshot(snapshot: MeetingSnapshotOut): MeetingState {
    return structuredClone({
        meeting: snapshot.meeting,
        presence: snapshot.presence,
        floor: snapshot.floor,
        rollcall: snapshot.rollcall,
    });
}

type Reducers = { [E in StreamEventName]: (s: MeetingState, ev: Events[E]) => void };

function setState(s: MeetingState, ev: { state: MeetingOut["state"] }): void {
    s.meeting.state = ev.state;
}

function floorEntry(ev: Events["floor.granted"] | Events["floor.requested"]): FloorEntry {
    return {
        subject: ev.subject,
        name: ev.name,
        state: ev.state,
        requested_at: ev.requested_at,
        granted_at: ev.granted_at,
        muted: ev.muted,
        deadline: ev.deadline ?? null,
    };
}

/** Holders first (in the order they got the floor), then requests (in the order asked). */
function putFloor(s: MeetingState, entry: FloorEntry): void {
    const rest = s.floor.filter((e) => e.subject !== entry.subject);
    rest.push(entry);
    s.floor = [...rest.filter((e) => e.state === "granted"), ...rest.filter((e) => e.state !== "granted")];
}

function dropFloor(s: MeetingState, subject: string): void {
    s.floor = s.floor.filter((e) => e.subject !== subject);
}

export const REDUCERS: Reducers = {
    "agenda.item_added": (s, ev) => {
        s.meeting.agenda.push(ev.item);
    },
    "agenda.item_removed": (s, ev) => {
        s.meeting.agenda = s.meeting.agenda.filter((i) => i.id !== ev.item_id);
    },
    "agenda.item_updated": (s, ev) => {
        s.meeting.agenda = s.meeting.agenda.map((i) => (i.id === ev.item.id ? ev.item : i));
    },
    "agenda.moved": (s, ev) => {
        s.meeting.current_agenda_item_id = ev.item_id;
        for (const item of s.meeting.agenda) {
            if (item.id === ev.previous_item_id) item.state = "done";
            if (item.id === ev.item_id) item.state = "active";
        }
    },
    "agenda.reordered": (s, ev) => {
        const byId = new Map(s.meeting.agenda.map((i) => [i.id, i]));
        s.meeting.agenda = ev.item_ids.flatMap((id, n) => {
            const item = byId.get(id);
            return item ? [{ ...item, position: n + 1 }] : [];
        });
    },
    "floor.granted": (s, ev) => {
        putFloor(s, floorEntry(ev));
    },
    "floor.requested": (s, ev) => {
        putFloor(s, floorEntry(ev));
    },
    "floor.muted": (s, ev) => {
        for (const e of s.floor) if (e.subject === ev.subject) e.muted = ev.muted;
    },
    "floor.reordered": (s, ev) => {
        // the requests in the order given; holders keep their place before them
        const rank = new Map(ev.subjects.map((subject, n) => [subject, n]));
        const held = s.floor.filter((e) => e.state === "granted");
        const asked = s.floor.filter((e) => e.state !== "granted");
        asked.sort((a, b) => (rank.get(a.subject) ?? asked.length) - (rank.get(b.subject) ?? asked.length));
        s.floor = [...held, ...asked];
    },
    "floor.revoked": (s, ev) => {
        dropFloor(s, ev.subject);
    },
    "floor.withdrawn": (s, ev) => {
        dropFloor(s, ev.subject);
    },
    "meeting.bridge_point_uninvited": (s, ev) => {
        s.meeting.bridge_point_ids = s.meeting.bridge_point_ids.filter((id) => id !== ev.bridge_point_id);
    },
    "meeting.bridge_points_invited": (s, ev) => {
        s.meeting.bridge_point_ids = [...new Set([...s.meeting.bridge_point_ids, ...ev.bridge_point_ids])];
    },
    "meeting.created": (s, ev) => {
        s.meeting = structuredClone(ev.meeting);
    },
    "meeting.updated": (s, ev) => {
        s.meeting = structuredClone(ev.meeting);
    },
    "meeting.delegate_uninvited": (s, ev) => {
        s.meeting.delegate_ids = s.meeting.delegate_ids.filter((id) => id !== ev.user_id);
    },
    "meeting.delegates_invited": (s, ev) => {
        s.meeting.delegate_ids = [...new Set([...s.meeting.delegate_ids, ...ev.user_ids])];
    },
    "meeting.ended": (s, ev) => {
        setState(s, ev);
        s.floor = [];
        for (const item of s.meeting.agenda) if (item.id === s.meeting.current_agenda_item_id) item.state = "done";
    },
    "meeting.opened": setState,
    "meeting.paused": setState,
    "meeting.resumed": setState,
    "meeting.scheduled": setState,
    "meeting.started": setState,
    "meeting.unscheduled": setState,
    "presence.joined": (s, ev) => {
        s.presence = s.presence.filter((p) => !(p.kind === ev.kind && p.id === ev.id));
        s.presence.push({ kind: ev.kind, id: ev.id, name: ev.name, role: ev.role, since: ev.since });
    },
    "presence.left": (s, ev) => {
        s.presence = s.presence.filter((p) => !(p.kind === ev.kind && p.id === ev.id));
    },
    "rollcall.started": (s, ev) => {
        s.rollcall = structuredClone(ev.rollcall);
    },
    "rollcall.closed": (s, ev) => {
        s.rollcall = structuredClone(ev.rollcall);
    },
    "rollcall.answered": (s, ev) => {
        if (s.rollcall?.id !== ev.rollcall_id) return;
        s.rollcall.answers = s.rollcall.answers.filter((a) => a.bridge_point_id !== ev.bridge_point_id);
        s.rollcall.answers.push({ bridge_point_id: ev.bridge_point_id, count: ev.count, answered_at: ev.answered_at });
    },
    "rollcall.confirmed": (s, ev) => {
        if (s.rollcall?.id !== ev.rollcall_id) return;
        if (s.rollcall.confirmations.some((c) => c.user_id === ev.user_id)) return;
        s.rollcall.confirmations.push({ user_id: ev.user_id, confirmed_at: ev.confirmed_at });
    },
};

export function reduce<E extends StreamEventName>(s: MeetingState, type: E, ev: Events[E]): void {
    (REDUCERS[type] as (s: MeetingState, ev: Events[E]) => void)(s, ev);
}
