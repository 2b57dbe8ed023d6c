// The meeting's documents as a screen holds them (the snapshot and stream events, plus the
// restricted ones fetched with `document.get`), the upload with its progress, publishing,
// presenting, private notes, and where the reader fetches a document's file. No pdf.js here:
// it is loaded only when a document is opened (see pdf.ts).

import type { AgendaItemOut, DocumentOut, ErrorCode, NoteOut, WireError } from "../generated/wire";
import type { MeetingState } from "../meetings/state";
import type { MeetingSocket } from "../socket/socket";

/** A refused or broken upload: the server's error (its Vietnamese sentence is `errorText`). */
export class UploadFailed extends Error {
    readonly status: number;
    readonly error: WireError;

    constructor(status: number, error: WireError) {
        super(`${String(status)} ${error.code}: ${error.message}`);
        this.name = "UploadFailed";
        this.status = status;
        this.error = error;
    }
}

/** `/api/v1/meetings/{id}/documents`, the collection the upload posts to. */
export function documentsPath(meetingId: number): string {
    return `/api/v1/meetings/${String(meetingId)}/documents`;
}

/** The URL of the PDF the reader shows (range requests; the viewer's own watermarked copy of
 * a confidential document). */
export function fileUrl(meetingId: number, documentId: number): string {
    return `${documentsPath(meetingId)}/${String(documentId)}/file`;
}

/** A recording of the meeting (a video), not a PDF: no pages; played, not presented. */
export function isVideo(doc: DocumentOut): boolean {
    return doc.media_type.startsWith("video/");
}

/** The upload's URL: the raw file is the body, its name in the query. */
export function uploadUrl(meetingId: number, filename: string, agendaItemId: number | null = null): string {
    const q = new URLSearchParams({ filename });
    if (agendaItemId !== null) q.set("agenda_item_id", String(agendaItemId));
    return `${documentsPath(meetingId)}?${q.toString()}`;
}

/** The server's error in a refused answer's body (or `internal` when the body is not one). */
export function errorOf(status: number, body: string): WireError {
    try {
        const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } } | null;
        const e = parsed?.error;
        if (e && typeof e.code === "string") {
            return { code: e.code as ErrorCode, message: typeof e.message === "string" ? e.message : "" };
        }
    } catch {
        /* not JSON: a proxy's page */
    }
    return { code: status === 413 ? "document_too_large" : "internal", message: `HTTP ${String(status)}` };
}

/** What the upload needs of XMLHttpRequest (a fake one in tests). */
export interface UploadXhr {
    upload: { onprogress: ((ev: ProgressEvent) => void) | null };
    onload: ((ev: ProgressEvent) => void) | null;
    onerror: ((ev: ProgressEvent) => void) | null;
    status: number;
    responseText: string;
    open(method: string, url: string): void;
    setRequestHeader(name: string, value: string): void;
    send(body: Blob): void;
}

/** Upload `file` as it is (streamed by the browser), calling `progress` with the fraction
 * sent; resolves with the new draft, rejects with {@link UploadFailed}. */
export function upload(
    meetingId: number,
    file: Blob & { name: string },
    token: string | null,
    progress: (fraction: number) => void,
    agendaItemId: number | null = null,
    makeXhr: () => UploadXhr = () => new XMLHttpRequest(),
): Promise<DocumentOut> {
    return new Promise((resolve, reject) => {
        const xhr = makeXhr();
        xhr.open("POST", uploadUrl(meetingId, file.name, agendaItemId));
        xhr.setRequestHeader("Content-Type", file.type === "application/pdf" ? "application/pdf" : "application/octet-stream");
        xhr.setRequestHeader("Accept", "application/json");
        if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
        xhr.upload.onprogress = (ev) => {
            if (ev.lengthComputable && ev.total > 0) progress(ev.loaded / ev.total);
        };
        xhr.onload = () => {
            if (xhr.status >= 200 && xhr.status < 300) {
                progress(1);
                resolve(JSON.parse(xhr.responseText) as DocumentOut);
            } else reject(new UploadFailed(xhr.status, errorOf(xhr.status, xhr.responseText)));
        };
        xhr.onerror = () => { reject(new UploadFailed(0, { code: "internal", message: "network error" })); };
        xhr.send(file);
    });
}

/** The documents of one agenda item (null: the meeting's own, not tied to an item). */
export interface DocumentGroup {
    item: AgendaItemOut | null;
    documents: DocumentOut[];
}

/** Documents by agenda item, in the agenda's order; the meeting's own ones first. */
export function byAgendaItem(agenda: readonly AgendaItemOut[], documents: readonly DocumentOut[]): DocumentGroup[] {
    const known = new Set(agenda.map((i) => i.id));
    const own = documents.filter((d) => d.agenda_item_id === null || !known.has(d.agenda_item_id));
    const groups: DocumentGroup[] = own.length ? [{ item: null, documents: own }] : [];
    for (const item of agenda) {
        const docs = documents.filter((d) => d.agenda_item_id === item.id);
        if (docs.length) groups.push({ item, documents: docs });
    }
    return groups;
}

/**
 * The documents a screen may see: the meeting state's list (snapshot and events) and the
 * restricted ones, which an event announces without metadata and `document.get` answers to
 * those in the audience only (others get not_found: not for them).
 */
export class DocumentList {
    readonly meetingId: number;
    readonly #socket: MeetingSocket;
    readonly #extra = new Map<number, DocumentOut>();
    readonly #watchers = new Set<() => void>();
    readonly #off: (() => void)[] = [];

    constructor(socket: MeetingSocket, meetingId: number) {
        this.#socket = socket;
        this.meetingId = meetingId;
        const restricted = (ev: { meeting_id: number; document_id: number; restricted: boolean; document?: DocumentOut | null }) => {
            if (ev.meeting_id !== meetingId) return;
            if (ev.restricted && !ev.document) void this.#fetch(ev.document_id);
            else if (ev.document) this.#extra.delete(ev.document_id);
        };
        const drop = (ev: { meeting_id: number; document_id: number }) => {
            if (ev.meeting_id === meetingId && this.#extra.delete(ev.document_id)) this.#changed();
        };
        this.#off.push(socket.on("document.published", restricted));
        this.#off.push(socket.on("document.updated", restricted));
        this.#off.push(socket.on("document.unpublished", drop));
        this.#off.push(socket.on("document.removed", drop));
    }

    /** Every document this screen may see, in order; `drafts` (the chair's panel) keeps the
     * unpublished ones too. */
    visible(state: MeetingState, drafts = false): DocumentOut[] {
        const byId = new Map(state.documents.map((d) => [d.id, d]));
        for (const [id, d] of this.#extra) if (!byId.has(id)) byId.set(id, d);
        return [...byId.values()]
            .filter((d) => drafts || d.state === "published")
            .sort((a, b) => a.position - b.position || a.id - b.id);
    }

    /** Fetch one document again (after an upload, or when an event carried no metadata). */
    async refresh(documentId: number): Promise<DocumentOut | null> {
        return this.#fetch(documentId);
    }

    /** The chair's panel: a new draft (an upload, a finished recording) is fetched when its
     * `document.uploaded` arrives (others would only be told `not_found`). */
    manage(): void {
        this.#off.push(this.#socket.on("document.uploaded", (ev) => {
            if (ev.meeting_id === this.meetingId) void this.#fetch(ev.document_id);
        }));
    }

    /** The chair's full list, drafts included (the snapshot has them; this refreshes). */
    async reload(): Promise<void> {
        const list = await this.#socket.call("document.list", { meeting_id: this.meetingId });
        for (const d of list) this.#extra.set(d.id, d);
        this.#changed();
    }

    subscribe(f: () => void): () => void {
        this.#watchers.add(f);
        return () => this.#watchers.delete(f);
    }

    close(): void {
        for (const off of this.#off) off();
    }

    publish(documentId: number, publish = true): Promise<DocumentOut> {
        const command = publish ? "document.publish" : "document.unpublish";
        return this.#socket.call(command, { meeting_id: this.meetingId, document_id: documentId }).then((d) => {
            this.#extra.set(d.id, d);
            this.#changed();
            return d;
        });
    }

    present(documentId: number, page = 1): Promise<unknown> {
        return this.#socket.call("document.present", { meeting_id: this.meetingId, document_id: documentId, page });
    }

    turnPage(page: number): Promise<unknown> {
        return this.#socket.call("document.turn_page", { meeting_id: this.meetingId, page });
    }

    stopPresenting(): Promise<unknown> {
        return this.#socket.call("document.stop_presenting", { meeting_id: this.meetingId });
    }

    /** The caller's own notes on a document (nobody else can read them). */
    notes(documentId: number): Promise<NoteOut[]> {
        return this.#socket.call("document.notes", { meeting_id: this.meetingId, document_id: documentId });
    }

    /** Keep the caller's note on a page; empty text removes it. */
    setNote(documentId: number, page: number, text: string): Promise<unknown> {
        return this.#socket.call("document.set_note", { meeting_id: this.meetingId, document_id: documentId, page, text });
    }

    async #fetch(documentId: number): Promise<DocumentOut | null> {
        try {
            const d = await this.#socket.call("document.get", { meeting_id: this.meetingId, document_id: documentId });
            this.#extra.set(d.id, d);
            this.#changed();
            return d;
        } catch {
            // not_found: the document is not for this screen
            if (this.#extra.delete(documentId)) this.#changed();
            return null;
        }
    }

    #changed(): void {
        for (const f of this.#watchers) f();
    }
}

/** Where the presenter is, as a reader follows it. */
export interface Spot {
    documentId: number;
    page: number;
}

/**
 * "Follow the presenter" (on by default): while following, the reader shows the presented
 * document and page; turning a page or opening another document by hand stops following,
 * and `rejoin` goes back to the presenter's page in one step.
 */
export class Follow {
    following = true;
    /** What the reader shows (null: nothing open). */
    shown: Spot | null = null;

    /** The meeting's presentation changed (or was first seen): go there while following. */
    presented(spot: Spot | null): void {
        if (this.following && spot) this.shown = { ...spot };
    }

    /** The reader opened a document or turned a page by hand: it browses alone now, unless
     * it is where the presenter is (or nothing is presented: the next presentation is
     * followed). */
    browse(spot: Spot, presenting: Spot | null): void {
        this.shown = { ...spot };
        this.following = presenting === null || (presenting.documentId === spot.documentId && presenting.page === spot.page);
    }

    /** "Về trang người trình bày": back to the presenter's document and page. */
    rejoin(presenting: Spot | null): void {
        this.following = true;
        this.presented(presenting);
    }
}

/** The presentation in the meeting state as a {@link Spot}. */
export function presentedSpot(state: MeetingState): Spot | null {
    const p = state.presenting;
    return p ? { documentId: p.document_id, page: p.page } : null;
}
