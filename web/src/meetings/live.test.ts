import { describe, expect, it } from "vitest";
import type { MeetingSnapshotOut } from "../generated/wire";
import { FakeSocket } from "../socket/fake";
import { MeetingSocket } from "../socket/socket";
import { LiveMeeting } from "./live";
import { MeetingStream } from "./stream";

const flush = () => new Promise((r) => setTimeout(r, 0));

function snapshot(): MeetingSnapshotOut {
    return {
        meeting: {
            id: 1, title: "Giao ban", description: "", state: "open", unit_id: 2, chair_id: 3, secretary_id: null,
            starts_at: "2026-12-01T01:00:00Z", ends_at: null, seq: 4, current_agenda_item_id: null,
            bridge_point_ids: [10, 11], delegate_ids: [5],
            agenda: [
                { id: 20, title: "Khai mạc", description: "", duration_minutes: 10, position: 1, state: "pending" },
                { id: 21, title: "Báo cáo", description: "", duration_minutes: 10, position: 2, state: "pending" },
            ],
        },
        presence: [],
        floor: [],
        rollcall: null,
    };
}

const at = "2026-12-01T01:00:00Z";
const started = (seq: number) => ({ meeting_id: 1, seq, at, state: "live", previous_state: "open", by: "user:3" });
const joined = (seq: number, id: number) => ({ meeting_id: 1, seq, at, kind: "bridge_point", id, name: `Điểm cầu ${String(id)}`, role: "bridge_point", since: at });
const requested = (seq: number, subject: string) => ({ meeting_id: 1, seq, at, subject, name: subject, state: "requested", requested_at: at, granted_at: null, muted: false });
const granted = (seq: number, subject: string) => ({ ...requested(seq, subject), state: "granted", granted_at: at });

describe("MeetingStream", () => {
    it("keeps the floor's deadline and reorders the requests after the holders", () => {
        const s = new MeetingStream();
        s.reset(snapshot(), 4);
        s.offer("floor.granted", { ...granted(5, "user:5"), deadline: "2026-12-01T01:01:00Z" });
        s.offer("floor.requested", requested(6, "bridge_point:10"));
        s.offer("floor.requested", requested(7, "bridge_point:11"));
        expect(s.offer("floor.reordered", { meeting_id: 1, seq: 8, at, subjects: ["bridge_point:11", "bridge_point:10"] })).toBe("applied");
        expect(s.state?.floor.map((e) => e.subject)).toEqual(["user:5", "bridge_point:11", "bridge_point:10"]);
        expect(s.state?.floor[0]?.deadline).toBe("2026-12-01T01:01:00Z");
        expect(s.state?.floor[1]?.deadline).toBeNull();
    });

    it("counts on the server's clock: the quickest recent event gives the offset", () => {
        const s = new MeetingStream();
        expect(s.serverNow(1_000)).toBe(1_000);
        const sent = Date.parse(at);
        s.observe(at, sent + 5_300); // this clock 5 s fast, 300 ms on the way
        s.observe(at, sent + 5_050);
        expect(s.serverNow(sent + 10_000)).toBe(sent + 10_000 - 5_050);
        const slow = new MeetingStream();
        slow.observe(at, sent + 2_000); // 2 s: slow delivery as likely as a wrong clock
        expect(slow.serverNow(sent + 10_000)).toBe(sent + 10_000);
    });

    it("applies events in seq order, ignores repeats, reports gaps", () => {
        const s = new MeetingStream();
        s.reset(snapshot(), 4);
        expect(s.offer("meeting.started", started(4))).toBe("repeat");
        expect(s.offer("presence.joined", joined(6, 10))).toBe("gap");
        expect(s.offer("meeting.started", started(5))).toBe("applied");
        expect(s.offer("presence.joined", joined(6, 10))).toBe("applied");
        expect(s.offer("presence.joined", joined(6, 10))).toBe("repeat");
        expect(s.state?.meeting.state).toBe("live");
        expect(s.state?.presence.map((p) => p.id)).toEqual([10]);
        expect(s.seq).toBe(6);
        expect(s.offer("presence.joined", { ...joined(7, 11), meeting_id: 2 })).toBe("ignored");
    });

    it("applies a storm's presence.arrived as one event: each newcomer once, in order", () => {
        const s = new MeetingStream();
        s.reset(snapshot(), 4);
        s.offer("presence.joined", joined(5, 10));
        const entry = (id: number) => ({ kind: "bridge_point" as const, id, name: `Điểm cầu ${String(id)}`, role: "bridge_point" as const, since: at });
        expect(s.offer("presence.arrived", { meeting_id: 1, seq: 6, at, entries: [entry(11), entry(10), entry(12)] })).toBe("applied");
        expect(s.state?.presence.map((p) => p.id)).toEqual([11, 10, 12]);
        s.offer("presence.left", { ...joined(7, 10) });
        expect(s.state?.presence.map((p) => p.id)).toEqual([11, 12]);
    });

    it("keeps floor holders before requests, follows mute, revoke and the agenda", () => {
        const s = new MeetingStream();
        s.reset(snapshot(), 4);
        s.offer("floor.requested", requested(5, "user:5"));
        s.offer("floor.requested", requested(6, "bridge_point:10"));
        s.offer("floor.granted", granted(7, "bridge_point:10"));
        expect(s.state?.floor.map((e) => [e.subject, e.state])).toEqual([
            ["bridge_point:10", "granted"], ["user:5", "requested"],
        ]);
        s.offer("floor.muted", { meeting_id: 1, seq: 8, at, subject: "bridge_point:10", muted: true });
        expect(s.state?.floor[0]?.muted).toBe(true);
        s.offer("floor.revoked", { meeting_id: 1, seq: 9, at, subject: "bridge_point:10", was: "granted", by: "user:3" });
        s.offer("agenda.moved", { meeting_id: 1, seq: 10, at, item_id: 21, previous_item_id: 20 });
        expect(s.state?.floor.map((e) => e.subject)).toEqual(["user:5"]);
        expect(s.state?.meeting.current_agenda_item_id).toBe(21);
        expect(s.state?.meeting.agenda.map((i) => i.state)).toEqual(["done", "active"]);
    });
});

describe("LiveMeeting over a socket", () => {
    function setup() {
        const fake = new FakeSocket();
        const log: unknown[] = [];
        let resync: unknown = { events: [], seq: 4 };
        fake.server = (command, payload) => {
            log.push([command, payload]);
            if (command === "meeting.join") return { ok: true, data: { snapshot: snapshot(), seq: 4 } };
            if (command === "meeting.resync") return { ok: true, data: resync };
            return { ok: false, error: { code: "unknown_command", message: command } };
        };
        const socket = new MeetingSocket("tok", { socket: fake });
        const live = new LiveMeeting(socket, 1);
        return { fake, socket, live, log, setResync: (r: unknown) => { resync = r; } };
    }

    it("joins on connect, then resyncs after a drop with no event lost or repeated", async () => {
        const { fake, socket, live, log, setResync } = setup();
        fake.connect();
        fake.push("meeting.started", started(3)); // a repeat, before the answer: ignored later
        await flush();
        expect(live.state?.meeting.state).toBe("open");
        expect(live.seq).toBe(4);
        fake.push("meeting.started", started(5));
        expect(live.state?.meeting.state).toBe("live");

        fake.drop();
        expect(socket.state).toBe("reconnecting");
        setResync({ seq: 7, events: [{ type: "presence.joined", ...joined(6, 10) }, { type: "floor.requested", ...requested(7, "user:5") }] });
        fake.connect();
        fake.push("presence.joined", joined(6, 10)); // arrives again during the resync: a repeat
        await flush();
        expect(socket.state).toBe("online");
        expect(log.at(-1)).toEqual(["meeting.resync", { meeting_id: 1, after_seq: 5 }]);
        expect(live.seq).toBe(7);
        expect(live.state?.presence.length).toBe(1);
        expect(live.state?.floor.map((e) => e.subject)).toEqual(["user:5"]);
        expect(live.joins).toBe(2);
    });

    it("takes a fresh snapshot when the server answers one", async () => {
        const { fake, live, setResync } = setup();
        fake.connect();
        await flush();
        fake.drop();
        const snap = snapshot();
        snap.meeting.state = "paused";
        setResync({ snapshot: snap, seq: 40 });
        fake.connect();
        await flush();
        expect(live.seq).toBe(40);
        expect(live.state?.meeting.state).toBe("paused");
    });

    it("tries a join again by itself when the server was busy", async () => {
        const fake = new FakeSocket();
        let answers = 0;
        fake.server = (command) => {
            if (command !== "meeting.join") return { ok: false, error: { code: "unknown_command", message: command } };
            answers += 1;
            return answers === 1
                ? { ok: false, error: { code: "busy", message: "try again" } }
                : { ok: true, data: { snapshot: snapshot(), seq: 4 } };
        };
        const live = new LiveMeeting(new MeetingSocket("tok", { socket: fake }), 1);
        fake.connect();
        await flush();
        expect(live.error?.error.code).toBe("busy");
        await new Promise((r) => setTimeout(r, 600));
        expect(live.error).toBeNull();
        expect(live.seq).toBe(4);
        live.close();
    });

    it("resyncs when a gap shows up", async () => {
        const { fake, live, log, setResync } = setup();
        fake.connect();
        await flush();
        setResync({ seq: 6, events: [{ type: "meeting.started", ...started(5) }, { type: "presence.joined", ...joined(6, 10) }] });
        fake.push("presence.joined", joined(6, 10));
        await flush();
        expect(log.at(-1)).toEqual(["meeting.resync", { meeting_id: 1, after_seq: 4 }]);
        expect(live.seq).toBe(6);
        expect(live.state?.meeting.state).toBe("live");
    });

    it("closes the session when the server revokes it, and leaves when taken out", async () => {
        const { fake, socket, live } = setup();
        fake.connect();
        await flush();
        fake.push("meeting.left", { meeting_id: 1, code: "not_found", message: "Không còn được mời" });
        expect(live.left?.code).toBe("not_found");
        fake.push("connection.closed", { code: "revoked", message: "Quyền truy cập đã bị thu hồi" });
        expect(socket.closed?.code).toBe("revoked");
        expect(socket.state).toBe("closed");
    });

    it("refuses a token the server refuses at connect", () => {
        const fake = new FakeSocket();
        const socket = new MeetingSocket("tok", { socket: fake });
        fake.fire("connect_error", Object.assign(new Error("no"), { data: { code: "token_expired", message: "expired" } }));
        expect(socket.closed?.code).toBe("token_expired");
    });

    it("rejects a command while disconnected instead of queueing it", async () => {
        const { socket } = setup();
        await expect(socket.call("floor.request", { meeting_id: 1 })).rejects.toMatchObject({ error: { code: "gone" } });
    });
});

describe("MeetingSocket closing", () => {
    it("ends the session only for a refused login; any other close reconnects", async () => {
        const fake = new FakeSocket();
        const socket = new MeetingSocket("tok", { socket: fake });
        fake.connect();
        fake.push("connection.closed", { code: "busy", message: "server going away" });
        expect(socket.closed).toBeNull();
        expect(socket.dropped?.code).toBe("busy");
        fake.drop();
        await new Promise((r) => setTimeout(r, 600));
        expect(fake.connected).toBe(true);
        expect(socket.dropped).toBeNull();
        fake.push("connection.closed", { code: "token_expired", message: "expired" });
        expect(socket.closed?.code).toBe("token_expired");
    });
});
