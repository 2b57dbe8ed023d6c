// The minutes panel of the chair console: once the meeting has ended, whoever the server lets
// write the minutes (the meeting's chair and secretary) edits the draft section by section,
// saves it (saved, conflict, error said in words), finalises it (signed PDF) and downloads it.
// A caller the server refuses sees no panel.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { MinutesOut } from "../generated/wire";
import { formatDateTime, formatTime, t } from "../i18n/i18n";
import type { MeetingState } from "../meetings/state";
import { nameOf } from "../presence/presence";
import { ApiError } from "../session/rest";
import type { Screen } from "../session/screen";
import { failureText } from "../ui/components";
import { useLang } from "../ui/hooks";
import { Minutes, draftOf, draftProblem, isDirty, saveFailure, type MinutesDraft } from "./minutes";
import "./minutes.css";

type Status =
    | { kind: "idle" }
    | { kind: "saving" }
    | { kind: "saved"; at: string }
    | { kind: "conflict"; by: string | null; at: string | null }
    | { kind: "error"; reason: string };

export function MinutesPanel(props: { screen: Screen; state: MeetingState }) {
    useLang();
    const m = props.state.meeting;
    const token = props.screen.session.token;
    const ended = m.state === "ended";
    const api = useMemo(() => (token ? new Minutes(m.id, token) : null), [m.id, token]);
    const [minutes, setMinutes] = useState<MinutesOut | null>(null);
    const [draft, setDraft] = useState<MinutesDraft | null>(null);
    const [status, setStatus] = useState<Status>({ kind: "idle" });
    const [refused, setRefused] = useState(false);
    const [error, setError] = useState<string | null>(null);
    const [finalising, setFinalising] = useState(false);
    const [pdf, setPdf] = useState<string | null>(null);

    const load = async () => {
        if (!api) return;
        try {
            const got = await api.get();
            setMinutes(got);
            setDraft(draftOf(got));
            setError(null);
        } catch (exc) {
            if (exc instanceof ApiError && exc.error.code === "forbidden") setRefused(true);
            else setError(failureText(exc));
        }
    };
    useEffect(() => {
        if (ended) void load();
    }, [ended, api]);
    useEffect(() => {
        if (minutes?.state !== "final" || !api) return;
        let url: string | null = null;
        api.pdf().then((blob) => {
            url = URL.createObjectURL(blob);
            setPdf(url);
        }).catch((exc: unknown) => { setError(failureText(exc)); });
        return () => { if (url) URL.revokeObjectURL(url); };
    }, [minutes?.state, minutes?.pdf_sha256, api]);

    if (refused) return null;
    const dirty = minutes !== null && draft !== null && isDirty(minutes, draft);
    const save = async (ev: Event) => {
        ev.preventDefault();
        if (!api || !minutes || !draft) return;
        const problem = draftProblem(draft);
        if (problem) { setStatus({ kind: "error", reason: t(`minutes.problem.${problem}`) }); return; }
        setStatus({ kind: "saving" });
        try {
            const saved = await api.save(draft, minutes);
            setMinutes(saved);
            setDraft(draftOf(saved));
            setStatus({ kind: "saved", at: saved.updated_at ?? new Date().toISOString() });
        } catch (exc) {
            const why = saveFailure(exc);
            if (why === "conflict") {
                // keep this editor's text on screen; say who saved, from the stored minutes
                const now = await api.get().catch(() => null);
                setStatus({ kind: "conflict", by: now?.updated_by ?? null, at: now?.updated_at ?? null });
            } else if (why === "final") {
                setStatus({ kind: "idle" });
                await load();
            } else {
                setStatus({ kind: "error", reason: failureText(exc) });
            }
        }
    };
    const reload = () => {
        if (dirty && !confirm(t("minutes.reload.confirm"))) return;
        setStatus({ kind: "idle" });
        void load();
    };
    const finalise = async () => {
        if (!api || !confirm(t("minutes.finalise.confirm"))) return;
        setFinalising(true);
        setError(null);
        try {
            setMinutes(await api.finalise());
        } catch (exc) {
            setError(failureText(exc));
        } finally {
            setFinalising(false);
        }
    };
    const edit = (change: (d: MinutesDraft) => MinutesDraft) => {
        if (!draft) return;
        setDraft(change(draft));
        if (status.kind === "saved" || status.kind === "error") setStatus({ kind: "idle" });
    };
    /** Who saved: a name from the meeting's presence, else the meeting's secretary or chair. */
    const who = (subject: string | null) =>
        (subject ? nameOf(props.state, subject) : null)
        ?? (subject === `user:${String(m.secretary_id)}` ? t("minutes.bySecretary")
            : subject === `user:${String(m.chair_id)}` ? t("minutes.byChair") : t("minutes.someoneElse"));
    const file = `bien-ban-${String(m.id)}.pdf`;

    return (
        <section class="panel minutes" aria-labelledby="minutes-h" data-minutes={minutes?.state ?? "none"}>
            <h2 id="minutes-h">{t("minutes.title")}</h2>
            {!ended ? <p class="muted">{t("minutes.notYet")}</p> : null}
            {ended && !minutes && !error ? <p class="muted" role="status">{t("minutes.loading")}</p> : null}
            {minutes?.state === "draft" && draft ? (
                <form class="minutes-editor" onSubmit={(ev) => void save(ev)} aria-describedby="minutes-draft-note">
                    <p id="minutes-draft-note">{t("minutes.draft")}</p>
                    <div class="row">
                        <label>{t("minutes.number")}
                            <input name="number" required maxLength={64} size={14} value={draft.number}
                                onInput={(ev) => { const number = ev.currentTarget.value; edit((d) => ({ ...d, number })); }} />
                        </label>
                        <label>{t("minutes.place")}
                            <input name="place" required maxLength={200} value={draft.place}
                                onInput={(ev) => { const place = ev.currentTarget.value; edit((d) => ({ ...d, place })); }} />
                        </label>
                    </div>
                    {draft.sections.map((s, i) => (
                        <div key={`${String(i)}-${s.heading}`} class="minutes-section">
                            <label class="minutes-heading" id={`minutes-s${String(i)}`} for={`minutes-t${String(i)}`}>{s.heading}</label>
                            <textarea id={`minutes-t${String(i)}`} name={`section-${String(i)}`} data-section={i} maxLength={100_000}
                                rows={Math.min(16, Math.max(3, s.text.split("\n").length + 1))} value={s.text}
                                onInput={(ev) => {
                                    const text = ev.currentTarget.value;
                                    edit((d) => ({ ...d, sections: d.sections.map((x, j) => (j === i ? { ...x, text } : x)) }));
                                }} />
                        </div>
                    ))}
                    <div class="row minutes-actions">
                        <button type="submit" data-action="save-minutes" disabled={status.kind === "saving"}>{t("minutes.save")}</button>
                        <button type="button" class="secondary" data-action="reload-minutes" onClick={reload}>{t("minutes.reload")}</button>
                        <MinutesStatus status={status} dirty={dirty} />
                    </div>
                    {status.kind === "conflict" ? (
                        <p class="bad" role="alert" data-minutes-status="conflict">
                            {t("minutes.conflict", { who: who(status.by), time: status.at ? formatTime(status.at) : "—" })}
                        </p>
                    ) : null}
                    {status.kind === "error" ? <p class="bad" role="alert" data-minutes-status="error">{t("minutes.saveFailed", { reason: status.reason })}</p> : null}
                    <div class="minutes-finalise">
                        <button type="button" data-action="finalise-minutes" disabled={dirty || finalising || status.kind === "saving"}
                            aria-describedby={dirty ? "minutes-save-first" : undefined} onClick={() => void finalise()}>
                            {finalising ? t("minutes.finalising") : t("minutes.finalise")}
                        </button>
                        {dirty ? <p id="minutes-save-first" class="muted">{t("minutes.saveFirst")}</p> : null}
                    </div>
                </form>
            ) : null}
            {minutes?.state === "final" ? (
                <>
                    <p class="ok" role="status">{t("minutes.final", { time: minutes.finalised_at ? formatDateTime(minutes.finalised_at) : "" })}</p>
                    {pdf ? <a class="button" href={pdf} download={file} data-action="download-minutes">{t("minutes.download")}</a> : null}
                </>
            ) : null}
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </section>
    );
}

/** Saved (when), saving, or unsaved changes, in words. */
function MinutesStatus(props: { status: Status; dirty: boolean }) {
    const s = props.status;
    const [kind, text] =
        s.kind === "saving" ? ["saving", t("minutes.saving")]
        : props.dirty ? ["dirty", t("minutes.unsaved")]
        : s.kind === "saved" ? ["saved", t("minutes.saved", { time: formatTime(s.at) })]
        : ["idle", ""];
    return <span class={kind === "saved" ? "ok" : "muted"} role="status" data-minutes-status={kind}>{text}</span>;
}
