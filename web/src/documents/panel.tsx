// The documents panels the views show: the delegate's reader (documents by agenda item, the
// pdf.js page, search, private notes, following the presenter), the bridge point's presented
// page and the chair's upload, publish and present controls. pdf.js is imported only when a
// page is first drawn. A recording of the meeting is a document too: a <video> plays it where
// the PDF reader would be.

import type { RefObject } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { DocumentOut, NoteOut } from "../generated/wire";
import { errorText, formatPercent, t } from "../i18n/i18n";
import type { MeetingState } from "../meetings/state";
import type { Screen } from "../session/screen";
import { failureText, useAction } from "../ui/components";
import { useLang, useWatch } from "../ui/hooks";
import { DocumentList, Follow, UploadFailed, byAgendaItem, isVideo, presentedSpot, upload, type Spot } from "./documents";
import type { Hits, PdfFile } from "./pdf";
import { RENEW_EARLY_MS, VideoSource, downloadUrl } from "./reading";
import "./documents.css";

/** The screen's document list, made once per followed meeting. */
function useDocuments(screen: Screen): DocumentList | null {
    useWatch(screen);
    const socket = screen.socket;
    const meetingId = screen.live?.meetingId ?? null;
    const list = useMemo(() => (socket && meetingId !== null ? new DocumentList(socket, meetingId) : null), [socket, meetingId]);
    useEffect(() => () => list?.close(), [list]);
    useWatch(list);
    return list;
}

/** The open PDF of `doc` (pdf.js loaded on first use), or its loading error. It is read
 * under a reading grant from `document.open`; a file that changed between two grants is
 * opened again from the start. */
function usePdf(screen: Screen, doc: DocumentOut | null): { file: PdfFile | null; error: string | null } {
    const [file, setFile] = useState<PdfFile | null>(null);
    const [error, setError] = useState<string | null>(null);
    const [generation, setGeneration] = useState(0);
    const socket = screen.socket;
    const id = doc?.id ?? null;
    const meetingId = doc?.meeting_id ?? null;
    useEffect(() => {
        setFile(null);
        setError(null);
        if (id === null || meetingId === null || !socket) return undefined;
        let gone = false;
        let opened: PdfFile | null = null;
        const openReading = () => socket.call("document.open", { meeting_id: meetingId, document_id: id });
        const failed = (exc: unknown) => {
            if (gone) return;
            if (exc instanceof Error && exc.name === "FileChanged") setGeneration((g) => g + 1);
            else setError(exc instanceof Error ? exc.message : String(exc));
        };
        Promise.all([import("./pdf"), openReading()])
            .then(([{ PdfFile: Pdf }, reading]) => Pdf.open(reading, openReading, failed))
            .then((f) => {
                if (gone) f.close();
                else {
                    opened = f;
                    setFile(f);
                }
            })
            .catch(failed);
        return () => {
            gone = true;
            opened?.close();
        };
    }, [id, meetingId, socket, generation]);
    return { file, error };
}

/** One page of an open PDF: canvas and text layer; `data-rendered` says which page is drawn. */
function PdfPage(props: { file: PdfFile; doc: DocumentOut; page: number; width: number }) {
    const canvas = useRef<HTMLCanvasElement>(null);
    const text = useRef<HTMLDivElement>(null);
    const [drawn, setDrawn] = useState(0);
    const { file, page, width } = props;
    useEffect(() => {
        const c = canvas.current;
        const box = text.current;
        if (!c || !box) return;
        let gone = false;
        file.render(page, c, box, width).then(
            () => { if (!gone) setDrawn(page); },
            () => undefined, // cancelled by the next page
        );
        return () => { gone = true; };
    }, [file, page, width]);
    return (
        <div class="pdfpage" data-doc={props.doc.id} data-page={page} data-rendered={drawn === page ? page : undefined}>
            <canvas ref={canvas} role="img" aria-label={`${props.doc.title}: ${t("doc.page", { page, count: file.pages })}`} />
            <div ref={text} class="textLayer" />
        </div>
    );
}

/** The size a page is drawn in: its box's, measured (and again on a resize). */
function useBox(fallback: number, shown: boolean): [RefObject<HTMLDivElement>, number, number] {
    const box = useRef<HTMLDivElement>(null);
    const [size, setSize] = useState<[number, number]>([fallback, 0]);
    useEffect(() => {
        const el = box.current;
        if (!el) return undefined;
        const measure = () => { setSize([Math.max(200, Math.floor(el.clientWidth)), Math.floor(el.clientHeight)]); };
        measure();
        const ro = new ResizeObserver(measure);
        ro.observe(el);
        return () => { ro.disconnect(); };
    }, [shown]);
    return [box, size[0], size[1]];
}

/** The width at which page `page` of `doc` fits in `width` x `height` (0: any height). */
export function fitWidth(doc: DocumentOut, page: number, width: number, height: number): number {
    const [w, h] = doc.page_sizes[page - 1] ?? doc.page_sizes[0] ?? [595, 842];
    if (height <= 0 || w <= 0 || h <= 0) return width;
    return Math.max(200, Math.floor(Math.min(width, (height * w) / h)));
}

function Badges(props: { doc: DocumentOut }) {
    const d = props.doc;
    const signed = d.signatures.length > 0;
    const intact = d.signatures.every((s) => s.intact);
    return (
        <span class="badges">
            {isVideo(d) ? <span class="badge">{t("doc.recording")}</span> : <span class="muted">{t("doc.pages", { n: d.pages })}</span>}
            {d.confidential ? <span class="badge bad">{t("doc.confidential")}</span> : null}
            {d.view_only ? <span class="badge">{t("doc.viewOnly")}</span> : null}
            {signed ? <span class={intact ? "badge ok" : "badge bad"}>{intact ? t("doc.signed") : t("doc.signed.bad")}</span> : null}
            {d.sanitised ? <span class="badge">{t("doc.sanitised")}</span> : null}
        </span>
    );
}

/**
 * A recording where the PDF reader would be: a <video> that fetches its ranges under the
 * reading grant of `document.open`. A grant that runs out (or is withdrawn) stops the
 * element with an error: it is opened again and goes on from where it was. The download
 * link (where allowed) takes a fresh grant when the one it holds is about to expire.
 */
function VideoPlayer(props: { screen: Screen; doc: DocumentOut; download: boolean }) {
    const video = useRef<HTMLVideoElement>(null);
    const resume = useRef<{ at: number; playing: boolean } | null>(null);
    const [src, setSrc] = useState<string | null>(null);
    const [error, setError] = useState<string | null>(null);
    const socket = props.screen.socket;
    const { id, meeting_id: meetingId, title, filename } = props.doc;
    const source = useMemo(
        () => (socket ? new VideoSource(() => socket.call("document.open", { meeting_id: meetingId, document_id: id }), location.href) : null),
        [socket, id, meetingId],
    );
    useEffect(() => {
        setSrc(null);
        setError(null);
        if (!source) return undefined;
        let gone = false;
        source.start().then(
            (url) => { if (!gone) setSrc(url); },
            (exc: unknown) => { if (!gone) setError(failureText(exc)); },
        );
        return () => { gone = true; };
    }, [source]);
    const failed = () => {
        const el = video.current;
        if (!el || !source) return;
        resume.current = { at: el.currentTime, playing: !el.paused };
        source.recover().then(
            (url) => {
                if (url === null) setError(t("doc.video.broken"));
                else setSrc(url);
            },
            (exc: unknown) => { setError(failureText(exc)); },
        );
    };
    const loaded = () => {
        const el = video.current;
        const r = resume.current;
        if (!el || !r) return;
        resume.current = null;
        el.currentTime = r.at;
        if (r.playing) void el.play().catch(() => undefined);
    };
    const download = (ev: MouseEvent) => {
        const reading = source?.reading;
        if (!source || !reading || Date.parse(reading.expires_at) - RENEW_EARLY_MS > Date.now()) return;
        ev.preventDefault();  // the grant is about to expire: a fresh one first
        source.start().then((url) => {
            setSrc(url);
            const a = document.createElement("a");
            a.href = downloadUrl(url, location.href);
            a.download = filename;
            a.click();
        }, (exc: unknown) => { setError(failureText(exc)); });
    };
    return (
        <div class="docvideo" data-doc={id}>
            {error ? <p class="bad" role="alert">{t("doc.failed", { reason: error })}</p> : null}
            {!src && !error ? <p role="status">{t("doc.loading")}</p> : null}
            {src ? <video ref={video} src={src} controls preload="metadata" aria-label={title} onError={failed} onLoadedMetadata={loaded} /> : null}
            {src && props.download ? (
                <p>
                    <a class="button secondary" href={downloadUrl(src, location.href)} download={filename} data-action="download" onClick={download}>{t("doc.download")}</a>
                </p>
            ) : null}
        </div>
    );
}

function DocumentIndex(props: { state: MeetingState; documents: DocumentOut[]; open: number | null; choose: (d: DocumentOut) => void }) {
    const groups = byAgendaItem(props.state.meeting.agenda, props.documents);
    if (groups.length === 0) return <p class="muted">{t("doc.empty")}</p>;
    return (
        <div class="docindex">
            {groups.map((g) => (
                <div key={g.item?.id ?? 0}>
                    <h3>{g.item ? g.item.title : t("doc.general")}</h3>
                    <ul class="plain">
                        {g.documents.map((d) => (
                            <li key={d.id}>
                                <button type="button" class="link" data-doc={d.id} aria-current={d.id === props.open ? "true" : undefined} onClick={() => { props.choose(d); }}>
                                    {d.title}
                                </button>{" "}
                                <Badges doc={d} />
                            </li>
                        ))}
                    </ul>
                </div>
            ))}
        </div>
    );
}

function Search(props: { file: PdfFile; go: (page: number) => void }) {
    const [hits, setHits] = useState<Hits | null>(null);
    const [busy, setBusy] = useState(false);
    const submit = (ev: Event) => {
        ev.preventDefault();
        const q = new FormData(ev.currentTarget as HTMLFormElement).get("q");
        if (typeof q !== "string" || !q.trim()) return;
        setBusy(true);
        void props.file.search(q).then((h) => { setHits(h); setBusy(false); });
    };
    return (
        <form class="docsearch" role="search" onSubmit={submit}>
            <label>
                {t("doc.search")} <input name="q" type="search" />
            </label>
            <button type="submit" class="secondary">{t("doc.search.submit")}</button>
            {busy ? <span role="status">{t("doc.search.busy")}</span> : null}
            {!busy && hits ? (
                hits.pages.length === 0 ? <span role="status" data-hits="0">{t("doc.search.none", { query: hits.query })}</span> : (
                    <span role="status" data-hits={hits.pages.join(",")}>
                        {t("doc.search.hits", { query: hits.query })}{" "}
                        {hits.pages.map((p) => <button key={p} type="button" class="link" data-hit={p} onClick={() => { props.go(p); }}>{p}</button>)}
                    </span>
                )
            ) : null}
        </form>
    );
}

/** The caller's private notes on one document: one per page, saved with document.set_note. */
function Notes(props: { list: DocumentList; doc: DocumentOut; page: number; go: (page: number) => void }) {
    const [notes, setNotes] = useState<Map<number, NoteOut>>(new Map());
    const [draft, setDraft] = useState("");
    const [saved, setSaved] = useState(false);
    const [error, run] = useAction();
    const { list, doc, page } = props;
    useEffect(() => {
        let gone = false;
        setNotes(new Map());
        list.notes(doc.id).then(
            (all) => { if (!gone) setNotes(new Map(all.map((n) => [n.page, n]))); },
            () => undefined,
        );
        return () => { gone = true; };
    }, [list, doc.id]);
    const kept = notes.get(page)?.text ?? "";
    useEffect(() => { setDraft(kept); }, [kept, page, doc.id]);
    useEffect(() => { setSaved(false); }, [page, doc.id]);
    const save = () => {
        run(async () => {
            const text = draft;
            await list.setNote(doc.id, page, text);
            const next = new Map(notes);
            if (text) next.set(page, { document_id: doc.id, page, text, updated_at: new Date().toISOString() });
            else next.delete(page);
            setNotes(next);
            setSaved(true);
        });
    };
    const pages = [...notes.keys()].sort((a, b) => a - b);
    return (
        <div class="docnotes">
            <label for="doc-note">{t("doc.note", { page })}</label>
            <textarea id="doc-note" name="note" rows={4} value={draft} aria-describedby="doc-note-help" onInput={(ev) => { setDraft(ev.currentTarget.value); setSaved(false); }} />
            <p id="doc-note-help" class="muted">{t("doc.note.help")}</p>
            <div class="row">
                <button type="button" data-action="save-note" onClick={save}>{t("doc.note.save")}</button>
                {saved ? <span class="ok" role="status">{t("doc.note.saved")}</span> : null}
                {pages.length ? (
                    <span>
                        {t("doc.note.pages")}{" "}
                        {pages.map((p) => <button key={p} type="button" class="link" data-note-page={p} onClick={() => { props.go(p); }}>{p}</button>)}
                    </span>
                ) : null}
            </div>
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </div>
    );
}

/**
 * The delegate's reader: documents by agenda item beside the open page. It follows the
 * presenter by default; opening or paging by hand browses alone, and one click returns.
 */
export function DocumentReader(props: { screen: Screen; state: MeetingState }) {
    useLang();
    const list = useDocuments(props.screen);
    const follow = useRef(new Follow()).current;
    const [, bump] = useState(0);
    const presenting = presentedSpot(props.state);
    const presenter = props.state.presenting?.presenter_name ?? "";
    useEffect(() => {
        follow.presented(presenting);
        bump((n) => n + 1);
    }, [presenting?.documentId, presenting?.page]);
    const documents = list ? list.visible(props.state) : [];
    const shown = follow.shown;
    const doc = documents.find((d) => d.id === shown?.documentId) ?? null;
    const pdf = doc && !isVideo(doc) ? doc : null;
    const { file, error } = usePdf(props.screen, pdf);
    const [box, width] = useBox(800, list !== null);
    if (!list) return null;
    const go = (spot: Spot) => {
        follow.browse(spot, presenting);
        bump((n) => n + 1);
    };
    const page = file && shown ? Math.min(Math.max(1, shown.page), file.pages) : 1;
    const presentedElsewhere = presenting !== null && !follow.following;
    return (
        <section class="panel documents" aria-labelledby="docs-h" data-following={follow.following ? "yes" : "no"}>
            <h2 id="docs-h">{t("doc.title")}</h2>
            <div class="docgrid">
                <DocumentIndex state={props.state} documents={documents} open={doc?.id ?? null} choose={(d) => { go({ documentId: d.id, page: 1 }); }} />
                <div class="docview" ref={box}>
                    {presenting && follow.following ? <p class="following" role="status">{t("doc.following", { name: presenter })}</p> : null}
                    {presentedElsewhere ? (
                        <p class="following" role="status">
                            {t("doc.alone", { name: presenter, page: presenting.page })}{" "}
                            <button type="button" data-action="rejoin" onClick={() => { follow.rejoin(presenting); bump((n) => n + 1); }}>{t("doc.follow.back")}</button>
                        </p>
                    ) : null}
                    {follow.following && presenting && !documents.some((d) => d.id === presenting.documentId) ? <p class="muted">{t("doc.notForYou")}</p> : null}
                    {!doc ? <p class="muted">{t("doc.none")}</p> : null}
                    {doc && !pdf ? (
                        <>
                            <h3>{doc.title} <Badges doc={doc} /></h3>
                            <VideoPlayer key={doc.id} screen={props.screen} doc={doc} download={!doc.view_only} />
                        </>
                    ) : null}
                    {pdf && error ? <p class="bad" role="alert">{t("doc.failed", { reason: error })}</p> : null}
                    {pdf && !file && !error ? <p role="status">{t("doc.loading")}</p> : null}
                    {pdf && file ? (
                        <>
                            <h3>{pdf.title} <Badges doc={pdf} /></h3>
                            <div class="row pager">
                                <button type="button" class="secondary" data-action="prev" disabled={page <= 1} onClick={() => { go({ documentId: pdf.id, page: page - 1 }); }}>{t("doc.prev")}</button>
                                <span data-pageno={page}>{t("doc.page", { page, count: file.pages })}</span>
                                <button type="button" class="secondary" data-action="next" disabled={page >= file.pages} onClick={() => { go({ documentId: pdf.id, page: page + 1 }); }}>{t("doc.next")}</button>
                            </div>
                            <Search file={file} go={(p) => { go({ documentId: pdf.id, page: p }); }} />
                            <PdfPage file={file} doc={pdf} page={page} width={Math.min(width, 1000)} />
                            <Notes list={list} doc={pdf} page={page} go={(p) => { go({ documentId: pdf.id, page: p }); }} />
                        </>
                    ) : null}
                </div>
            </div>
        </section>
    );
}

/** The bridge point's presented page, beside the speaker (nothing while none is presented). */
export function PresentedPage(props: { screen: Screen; state: MeetingState }) {
    useLang();
    const list = useDocuments(props.screen);
    const p = props.state.presenting;
    const found = (list?.visible(props.state) ?? []).find((d) => d.id === p?.document_id) ?? null;
    const doc = found && !isVideo(found) ? found : null; // a recording is never presented
    const { file, error } = usePdf(props.screen, doc);
    const [box, width, height] = useBox(800, p !== null);
    if (!p) return null;
    return (
        <section class="presented" aria-labelledby="presented-h">
            <h2 id="presented-h">{doc ? doc.title : t("doc.presented")}</h2>
            <p class="muted">{t("doc.presenting", { name: p.presenter_name, page: p.page })}</p>
            {!doc ? <p>{t("doc.notForYou")}</p> : null}
            {doc && error ? <p class="bad" role="alert">{t("doc.failed", { reason: error })}</p> : null}
            <div class="fit" ref={box}>
                {doc && file ? <PdfPage file={file} doc={doc} page={Math.min(p.page, file.pages)} width={fitWidth(doc, p.page, width, height)} /> : null}
            </div>
        </section>
    );
}

function UploadForm(props: { screen: Screen; state: MeetingState; list: DocumentList }) {
    const [progress, setProgress] = useState<number | null>(null);
    const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
    const submit = (ev: Event) => {
        ev.preventDefault();
        const form = ev.currentTarget as HTMLFormElement;
        const data = new FormData(form);
        const file = data.get("file");
        if (!(file instanceof File) || !file.name) return;
        const item = Number(data.get("item"));
        setMessage(null);
        setProgress(0);
        upload(props.state.meeting.id, file, props.screen.session.token, setProgress, item > 0 ? item : null).then(
            async (doc) => {
                setProgress(null);
                setMessage({ ok: true, text: t("doc.upload.done", { title: doc.title }) });
                form.reset();
                await props.list.refresh(doc.id);
            },
            (exc: unknown) => {
                setProgress(null);
                const reason = exc instanceof UploadFailed ? errorText(exc.error) : String(exc);
                setMessage({ ok: false, text: t("doc.upload.refused", { reason }) });
            },
        );
    };
    return (
        <form class="docupload" onSubmit={submit}>
            <label>{t("doc.upload.file")} <input type="file" name="file" required accept=".pdf,.docx,.odt,.xlsx,.pptx,application/pdf" /></label>
            <label>
                {t("doc.upload.item")}{" "}
                <select name="item">
                    <option value="0">{t("doc.upload.whole")}</option>
                    {props.state.meeting.agenda.map((i) => <option key={i.id} value={i.id}>{i.title}</option>)}
                </select>
            </label>
            <button type="submit" disabled={progress !== null}>{t("doc.upload.submit")}</button>
            {progress !== null ? (
                <span role="status">
                    <progress max={1} value={progress} aria-label={t("doc.upload")} />{" "}
                    {progress < 1 ? t("doc.upload.progress", { percent: formatPercent(progress) }) : t("doc.upload.checking")}
                </span>
            ) : null}
            {message ? <p class={message.ok ? "ok" : "bad"} role={message.ok ? "status" : "alert"} data-upload={message.ok ? "done" : "refused"}>{message.text}</p> : null}
        </form>
    );
}

/** The chair's documents: upload, publish or take back, present and turn pages. */
export function ChairDocuments(props: { screen: Screen; state: MeetingState }) {
    useLang();
    const list = useDocuments(props.screen);
    const [error, run] = useAction();
    const [playing, setPlaying] = useState<number | null>(null);
    useEffect(() => {
        if (!list) return;
        list.manage();
        void list.reload().catch(() => undefined);
    }, [list]);
    if (!list) return null;
    const documents = list.visible(props.state, true);
    const p = props.state.presenting;
    const shown = documents.find((d) => d.id === p?.document_id) ?? null;
    const played = documents.find((d) => d.id === playing && isVideo(d)) ?? null;
    const live = ["open", "live", "paused"].includes(props.state.meeting.state);
    return (
        <section class="panel documents" aria-labelledby="docs-h">
            <h2 id="docs-h">{t("doc.title")}</h2>
            <UploadForm screen={props.screen} state={props.state} list={list} />
            {documents.length === 0 ? <p class="muted">{t("doc.empty")}</p> : null}
            <ul class="plain doclist">
                {documents.map((d) => (
                    <li key={d.id} data-doc={d.id} data-state={d.state}>
                        <strong>{d.title}</strong> <span class="muted">{d.state === "published" ? t("doc.state.published") : t("doc.state.draft")}</span> <Badges doc={d} />
                        <span class="row">
                            {d.state === "published" ? (
                                <>
                                    <button type="button" class="secondary" data-action="unpublish" onClick={() => { run(() => list.publish(d.id, false)); }}>{t("doc.unpublish")}</button>
                                    {live && p?.document_id !== d.id && !isVideo(d) ? <button type="button" data-action="present" onClick={() => { run(() => list.present(d.id, 1)); }}>{t("doc.present")}</button> : null}
                                </>
                            ) : (
                                <button type="button" data-action="publish" onClick={() => { run(() => list.publish(d.id, true)); }}>{t("doc.publish")}</button>
                            )}
                            {isVideo(d) ? (
                                <button type="button" class="secondary" data-action="play" aria-pressed={played?.id === d.id} onClick={() => { setPlaying(played?.id === d.id ? null : d.id); }}>
                                    {played?.id === d.id ? t("doc.play.close") : t("doc.play")}
                                </button>
                            ) : null}
                        </span>
                    </li>
                ))}
            </ul>
            {played ? (
                <div class="played">
                    <h3>{played.title}</h3>
                    <VideoPlayer key={played.id} screen={props.screen} doc={played} download />
                </div>
            ) : null}
            {p ? (
                <div class="row pager" data-presenting={p.document_id}>
                    <strong>{t("doc.presenting", { name: p.presenter_name, page: p.page })}</strong>
                    <button type="button" class="secondary" data-action="prev-page" disabled={p.page <= 1} onClick={() => { run(() => list.turnPage(p.page - 1)); }}>{t("doc.prev")}</button>
                    <span data-pageno={p.page}>{shown ? t("doc.page", { page: p.page, count: shown.pages }) : p.page}</span>
                    <button type="button" class="secondary" data-action="next-page" disabled={shown !== null && p.page >= shown.pages} onClick={() => { run(() => list.turnPage(p.page + 1)); }}>{t("doc.next")}</button>
                    <button type="button" class="danger" data-action="stop-presenting" onClick={() => { run(() => list.stopPresenting()); }}>{t("doc.stop")}</button>
                </div>
            ) : null}
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </section>
    );
}
