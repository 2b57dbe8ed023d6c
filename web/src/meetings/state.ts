// A meeting as a screen holds it: the join snapshot, then each stream event applied in `seq`
// order. `REDUCERS` has one entry per stream event (a missing one fails tsc).

import type {
    DocumentOut,
    Events,
    FloorEntryOut,
    MeetingOut,
    MeetingSnapshotOut,
    PresenceOut,
    PresentationOut,
    RollCallOut,
    StreamEventName,
    VoteOut,
} from "../generated/wire";

/** A floor entry (its `deadline` is set when the chair gave a speaking-time limit). */
export type FloorEntry = FloorEntryOut;

export interface MeetingState {
    meeting: MeetingOut;
    presence: PresenceOut[];
    floor: FloorEntry[];
    rollcall: RollCallOut | null;
    /** The documents this screen may see, in order (for the documents panel). */
    documents: DocumentOut[];
    /** The document and page on every screen, if one is presented. */
    presenting: PresentationOut | null;
    /** The meeting's votes in the order opened: from the snapshot (open and closed), then
     * the vote events (for the votes panels). */
    votes: VoteOut[];
    /** The recording running now (file, since when), if the meeting is being recorded: from
     * the snapshot (a screen that joins or reloads mid-recording says so), then the events. */
    recording: { file: string; since: string } | null;
}

export function fromSnapshot(snapshot: MeetingSnapshotOut): MeetingState {
    return structuredClone({
        meeting: snapshot.meeting,
        presence: snapshot.presence,
        floor: snapshot.floor,
        rollcall: snapshot.rollcall,
        documents: snapshot.documents ?? [],
        presenting: snapshot.presenting ?? null,
        votes: snapshot.votes ?? [],
        recording: snapshot.recording ?? null,
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

/** A document as an event gives it: null when its audience is restricted (the event does not
 * say whether this screen may see it; the documents panel asks with `document.get`). */
function putDocument(s: MeetingState, doc: DocumentOut | null): void {
    if (!doc) return;
    const at = s.documents.findIndex((d) => d.id === doc.id);
    if (at >= 0) s.documents[at] = doc;
    else s.documents.push(doc);
    s.documents.sort((a, b) => a.position - b.position);
}

function putVote(s: MeetingState, vote: VoteOut): void {
    s.votes = [...s.votes.filter((v) => v.id !== vote.id), structuredClone(vote)].sort((a, b) => a.id - b.id);
}

export const REDUCERS: Reducers = {
    "recording.started": (s, ev) => {
        s.recording = { file: ev.file, since: ev.at };
    },
    "recording.stopped": (s) => {
        s.recording = null;
    },
    "vote.opened": (s, ev) => {
        putVote(s, ev.vote);
    },
    "vote.counted": (s, ev) => {
        // how many ballots so far (and the counts, for an open vote)
        for (const v of s.votes) {
            if (v.id !== ev.vote_id) continue;
            v.ballots = ev.ballots;
            if (ev.counts !== undefined) v.counts = ev.counts;
        }
    },
    "vote.closed": (s, ev) => {
        putVote(s, ev.vote);
    },
    "document.page_turned": (s, ev) => {
        if (s.presenting?.document_id === ev.document_id) s.presenting.page = ev.page;
    },
    "document.presentation_stopped": (s) => {
        s.presenting = null;
    },
    "document.presented": (s, ev) => {
        s.presenting = { document_id: ev.document_id, page: ev.page, presenter: ev.presenter, presenter_name: ev.presenter_name, since: ev.at };
    },
    "document.published": (s, ev) => {
        putDocument(s, ev.document);
    },
    "document.removed": (s, ev) => {
        s.documents = s.documents.filter((d) => d.id !== ev.document_id);
        if (s.presenting?.document_id === ev.document_id) s.presenting = null;
    },
    "document.unpublished": (s, ev) => {
        // back to a draft: only the chair and secretary see drafts (they get document.updated)
        for (const d of s.documents) if (d.id === ev.document_id) d.state = "draft";
    },
    "document.updated": (s, ev) => {
        putDocument(s, ev.document);
    },
    "document.uploaded": () => {
        // a new draft: the event carries no document; the chair's panel fetches it
    },
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
    "presence.arrived": (s, ev) => {
        const key = (p: { kind: string; id: number }) => `${p.kind}:${String(p.id)}`;
        const arriving = new Set(ev.entries.map(key));
        s.presence = s.presence.filter((p) => !arriving.has(key(p)));
        for (const p of ev.entries) s.presence.push({ kind: p.kind, id: p.id, name: p.name, role: p.role, since: p.since });
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
