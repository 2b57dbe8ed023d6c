import { describe, expect, it } from "vitest";
import type { AgendaItemOut, DocumentOut, MeetingSnapshotOut } from "../generated/wire";
import { errorText, setLang } from "../i18n/i18n";
import { fromSnapshot } from "../meetings/state";
import { FakeSocket } from "../socket/fake";
import { MeetingSocket } from "../socket/socket";
import { DocumentList, Follow, UploadFailed, byAgendaItem, errorOf, fileUrl, isVideo, upload, uploadUrl, type UploadXhr } from "./documents";

function doc(id: number, extra: Partial<DocumentOut> = {}): DocumentOut {
    return {
        id, meeting_id: 7, agenda_item_id: null, audience: [], confidential: false, filename: `d${String(id)}.pdf`,
        findings: [], kind: "pdf", media_type: "application/pdf", page_sizes: [[595, 842]], pages: 3, position: id, presenters: [], published_at: null,
        sanitised: false, signatures: [], size_bytes: 100, state: "published", title: `Tài liệu ${String(id)}`,
        uploaded_at: "2026-01-01T00:00:00Z", view_only: false, ...extra,
    };
}

const item = (id: number, title: string): AgendaItemOut => ({ id, title, position: id, description: "", duration_minutes: null, state: "pending" });

describe("documents by agenda item", () => {
    it("puts the meeting's own first, then each item's in the agenda's order", () => {
        const agenda = [item(1, "Một"), item(2, "Hai")];
        const groups = byAgendaItem(agenda, [doc(1, { agenda_item_id: 2 }), doc(2), doc(3, { agenda_item_id: 1 }), doc(4, { agenda_item_id: 99 })]);
        expect(groups.map((g) => [g.item?.title ?? null, g.documents.map((d) => d.id)])).toEqual([
            [null, [2, 4]],
            ["Một", [3]],
            ["Hai", [1]],
        ]);
    });

    it("builds the upload and file URLs (diacritics kept in the query)", () => {
        expect(uploadUrl(7, "Báo cáo.pdf", 3)).toBe("/api/v1/meetings/7/documents?filename=B%C3%A1o+c%C3%A1o.pdf&agenda_item_id=3");
        expect(fileUrl(7, 9)).toBe("/api/v1/meetings/7/documents/9/file");
    });
});

describe("following the presenter", () => {
    it("goes with the presenter, stops when browsing alone, returns in one step", () => {
        const f = new Follow();
        expect(f.following).toBe(true);
        f.presented({ documentId: 1, page: 2 });
        expect(f.shown).toEqual({ documentId: 1, page: 2 });
        f.browse({ documentId: 1, page: 3 }, { documentId: 1, page: 2 });
        expect(f.following).toBe(false);
        f.presented({ documentId: 1, page: 5 });
        expect(f.shown).toEqual({ documentId: 1, page: 3 });
        f.rejoin({ documentId: 1, page: 5 });
        expect([f.following, f.shown]).toEqual([true, { documentId: 1, page: 5 }]);
        // paging by hand onto the presenter's own page keeps following
        f.browse({ documentId: 1, page: 5 }, { documentId: 1, page: 5 });
        expect(f.following).toBe(true);
        // browsing while nothing is presented: the next presentation is followed
        const g = new Follow();
        g.browse({ documentId: 2, page: 3 }, null);
        g.presented({ documentId: 1, page: 1 });
        expect([g.following, g.shown]).toEqual([true, { documentId: 1, page: 1 }]);
    });
});

class FakeXhr implements UploadXhr {
    upload: UploadXhr["upload"] = { onprogress: null };
    onload: UploadXhr["onload"] = null;
    onerror: UploadXhr["onerror"] = null;
    status = 0;
    responseText = "";
    opened: [string, string] | null = null;
    headers: Record<string, string> = {};
    body: Blob | null = null;
    open(method: string, url: string): void { this.opened = [method, url]; }
    setRequestHeader(name: string, value: string): void { this.headers[name] = value; }
    send(body: Blob): void { this.body = body; }
    answer(status: number, body: unknown): void {
        this.status = status;
        this.responseText = JSON.stringify(body);
        this.onload?.({} as ProgressEvent);
    }
}

describe("upload", () => {
    it("sends the raw file with the token and reports progress", async () => {
        const xhr = new FakeXhr();
        const seen: number[] = [];
        const file = Object.assign(new Blob(["%PDF-1.7"], { type: "application/pdf" }), { name: "Tờ trình.pdf" });
        const done = upload(7, file, "tok", (f) => seen.push(f), null, () => xhr);
        xhr.upload.onprogress?.({ loaded: 4, total: 8, lengthComputable: true } as ProgressEvent);
        xhr.answer(201, doc(5, { state: "draft" }));
        expect((await done).id).toBe(5);
        expect(xhr.opened).toEqual(["POST", uploadUrl(7, "Tờ trình.pdf")]);
        expect(xhr.headers.Authorization).toBe("Bearer tok");
        expect(xhr.body).toBe(file);
        expect(seen).toEqual([0.5, 1]);
    });

    it("rejects with the server's code, shown in Vietnamese", async () => {
        const xhr = new FakeXhr();
        const file = Object.assign(new Blob(["<html>"]), { name: "x.pdf" });
        const done = upload(7, file, null, () => undefined, null, () => xhr);
        xhr.answer(400, { error: { code: "not_a_pdf", message: "the file is HTML" } });
        const exc = await done.catch((e: unknown) => e);
        expect(exc).toBeInstanceOf(UploadFailed);
        setLang("vi");
        expect(errorText((exc as UploadFailed).error)).toContain("không phải PDF");
        expect(errorOf(413, "<html>")).toEqual({ code: "document_too_large", message: "HTTP 413" });
    });
});

describe("the list", () => {
    it("fetches a restricted document with document.get and drops it when taken back", async () => {
        const fake = new FakeSocket();
        fake.server = (command, payload) => {
            if (command === "document.get") {
                const id = (payload as { document_id: number }).document_id;
                return id === 2 ? { ok: true, data: doc(2, { confidential: true }) } : { ok: false, error: { code: "not_found", message: "no" } };
            }
            return { ok: true, data: {} };
        };
        const socket = new MeetingSocket("t", { socket: fake });
        fake.connect();
        const list = new DocumentList(socket, 7);
        const state = fromSnapshot({ meeting: { id: 7, agenda: [] }, presence: [], floor: [], rollcall: null, documents: [doc(1)], presenting: null } as unknown as MeetingSnapshotOut);
        let changes = 0;
        list.subscribe(() => { changes += 1; });
        fake.push("document.published", { meeting_id: 7, document_id: 2, restricted: true, document: null, seq: 1, at: "" });
        fake.push("document.published", { meeting_id: 7, document_id: 3, restricted: true, document: null, seq: 2, at: "" });
        await new Promise((r) => setTimeout(r, 0));
        expect(list.visible(state).map((d) => d.id)).toEqual([1, 2]);
        fake.push("document.unpublished", { meeting_id: 7, document_id: 2, seq: 3, at: "" });
        expect(list.visible(state).map((d) => d.id)).toEqual([1]);
        expect(changes).toBeGreaterThanOrEqual(2);
        list.close();
    });
});

describe("a recording among the documents", () => {
    const recording = doc(9, { kind: "webm", media_type: "video/webm", pages: 0, page_sizes: [], state: "draft", audience: ["role:chair", "role:secretary"] });

    it("is a video, not a PDF", () => {
        expect([isVideo(recording), isVideo(doc(1))]).toEqual([true, false]);
    });

    it("reaches the chair's list when the server keeps one (document.uploaded), not a delegate's", async () => {
        const fake = new FakeSocket();
        const asked: number[] = [];
        fake.server = (command, payload) => {
            if (command === "document.get") {
                asked.push((payload as { document_id: number }).document_id);
                return { ok: true, data: recording };
            }
            return { ok: true, data: {} };
        };
        const socket = new MeetingSocket("t", { socket: fake });
        fake.connect();
        const state = fromSnapshot({ meeting: { id: 7, agenda: [] }, presence: [], floor: [], rollcall: null, documents: [doc(1)], presenting: null } as unknown as MeetingSnapshotOut);
        const delegate = new DocumentList(socket, 7);
        const chair = new DocumentList(socket, 7);
        chair.manage();
        fake.push("document.uploaded", { meeting_id: 7, document_id: 9, seq: 1, at: "" });
        fake.push("document.uploaded", { meeting_id: 8, document_id: 10, seq: 1, at: "" }); // another meeting
        await new Promise((r) => setTimeout(r, 0));
        expect(asked).toEqual([9]);
        expect(chair.visible(state, true).map((d) => d.id)).toEqual([1, 9]);
        expect(chair.visible(state).map((d) => d.id)).toEqual([1]); // a draft: not in the reader
        expect(delegate.visible(state, true).map((d) => d.id)).toEqual([1]);
        chair.close();
        delegate.close();
    });
});
