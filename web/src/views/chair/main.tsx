// Chủ trì: the chair's console. Meeting state and agenda, the grid of bridge points with live
// thumbnails, the speaking queue, mute, roll call, start/pause/resume/end.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { BridgePointOut, MeetingSummaryOut, PrincipalOut, SpeechOut } from "../../generated/wire";
import { ChairDocuments } from "../../documents/panel";
import { limitFromMinutes, moved, requests, speakers } from "../../floor/floor";
import { HealthHistory, quality } from "../../health/health";
import { formatDateTime, formatDuration, formatTime, t } from "../../i18n/i18n";
import { transitions, type Transition } from "../../meetings/meetings";
import type { MeetingState } from "../../meetings/state";
import { nameOf, onlineSubjects } from "../../presence/presence";
import { summary } from "../../rollcall/rollcall";
import { rest } from "../../session/rest";
import { Screen } from "../../session/screen";
import { ConnBanner, DeviceNotice, Header, Waiting, PasswordLogin, RemoteAudio, Video, stateText, useAction } from "../../ui/components";
import { SpeakTimer } from "../../ui/floor";
import { useLang, useWatch } from "../../ui/hooks";
import { exposeForTests, mount } from "../../ui/mount";
import { MinutesPanel } from "../../minutes/panel";
import { recordingAction } from "../../recording/recording";
import { RecordingNotice } from "../../ui/recording";
import { ChairVotes } from "../../votes/panel";
import "./chair.css";

function pickChaired(list: readonly MeetingSummaryOut[], me: PrincipalOut): MeetingSummaryOut | null {
    const rank = { live: 0, paused: 1, open: 2, scheduled: 3, draft: 4 } as const;
    const mine = list.filter((m) => m.state !== "ended" && (m.chair_id === me.id || m.secretary_id === me.id));
    mine.sort((a, b) => rank[a.state as keyof typeof rank] - rank[b.state as keyof typeof rank] || a.starts_at.localeCompare(b.starts_at));
    return mine[0] ?? null;
}

const screen = new Screen({ view: "chair", media: { publish: true, video: { width: 640, height: 360 } }, pick: pickChaired });

const VERB_LABEL = { open: "meeting.open", start: "meeting.start", pause: "meeting.pause", resume: "meeting.resume", end: "meeting.end" } as const;

function Controls(props: { state: MeetingState }) {
    const [error, run] = useAction();
    const verbs = transitions(props.state.meeting.state);
    const act = (verb: Transition) => {
        if (verb === "end" && !confirm(t("meeting.end.confirm"))) return;
        run(async () => { await screen.commands?.transition(verb); });
    };
    return (
        <section class="panel" aria-labelledby="meeting-h">
            <h2 id="meeting-h">{props.state.meeting.title}</h2>
            <p>
                <strong data-state={props.state.meeting.state}>{stateText(props.state.meeting.state)}</strong>
                {" · "}
                <span class="muted">{t("meeting.starts", { time: formatDateTime(props.state.meeting.starts_at) })}</span>
            </p>
            <div class="row">
                {verbs.map((v) => (
                    <button key={v} type="button" class={v === "end" ? "danger" : ""} data-verb={v} onClick={() => { act(v); }}>
                        {t(VERB_LABEL[v])}
                    </button>
                ))}
            </div>
            {error ? <p class="bad" role="alert">{error}</p> : null}
            <RecordingControl state={props.state} />
        </section>
    );
}

/** Ghi hình / Dừng ghi hình (stop after a confirmation), and for how long it has recorded.
 * What it shows comes from the events: another tab of the chair may stop it, the end of the
 * meeting stops it; the server decides who may, its refusal shown as it says. */
function RecordingControl(props: { state: MeetingState }) {
    const [error, run] = useAction();
    const [busy, setBusy] = useState(false);
    const action = recordingAction(props.state);
    const act = () => {
        if (!action) return;
        if (action === "stop" && !confirm(t("recording.stop.confirm"))) return;
        setBusy(true);
        run(async () => {
            try {
                await screen.commands?.record(action === "start");
            } finally {
                setBusy(false);
            }
        });
    };
    return (
        <div class="recctl" data-recctl={action ?? "none"}>
            <div class="row">
                <button type="button" class={action === "stop" ? "danger" : "secondary"} data-action={action === "stop" ? "record-stop" : "record-start"}
                    disabled={!action || busy} aria-describedby={action ? undefined : "rec-help"} onClick={act}>
                    {busy ? t("recording.busy") : action === "stop" ? t("recording.stop") : t("recording.start")}
                </button>
                <RecordingNotice state={props.state} clock={screen.live?.stream ?? null} />
            </div>
            {!action ? <p id="rec-help" class="muted">{t("recording.notHeld")}</p> : null}
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </div>
    );
}

function Agenda(props: { state: MeetingState }) {
    const [error, run] = useAction();
    const m = props.state.meeting;
    const canMove = m.state === "open" || m.state === "live" || m.state === "paused";
    return (
        <section class="panel" aria-labelledby="agenda-h">
            <h2 id="agenda-h">{t("agenda.title")}</h2>
            {m.agenda.length === 0 ? <p class="muted">{t("agenda.empty")}</p> : null}
            <ol class="plain agenda">
                {m.agenda.map((item, n) => {
                    const current = item.id === m.current_agenda_item_id;
                    return (
                        <li key={item.id} aria-current={current ? "step" : undefined} class={item.state === "done" ? "done" : ""}>
                            <span>
                                {n + 1}. {item.title}
                                {item.duration_minutes ? <span class="muted"> · {t("agenda.minutes", { n: item.duration_minutes })}</span> : null}
                                {current ? <span class="visually-hidden"> ({t("agenda.current")})</span> : null}
                            </span>
                            {canMove && !current ? (
                                <button type="button" class="secondary" aria-label={`${t("agenda.moveTo")}: ${item.title}`}
                                    onClick={() => { run(async () => { await screen.commands?.moveTo(item.id); }); }}>
                                    ▶
                                </button>
                            ) : null}
                        </li>
                    );
                })}
            </ol>
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </section>
    );
}

function RollCallPanel(props: { state: MeetingState }) {
    const [error, run] = useAction();
    const s = summary(props.state);
    const m = props.state.meeting;
    const canStart = (m.state === "open" || m.state === "live" || m.state === "paused") && !s?.open;
    return (
        <section class="panel" aria-labelledby="rollcall-h">
            <h2 id="rollcall-h">{t("rollcall.title")}</h2>
            {!s ? <p class="muted">{t("rollcall.none")}</p> : (
                <div role="status" data-rollcall={s.open ? "open" : "closed"}>
                    {s.open ? <p><strong>{t("rollcall.open")}</strong></p> : null}
                    <p>{t("rollcall.answered", { answered: s.answered, invited: s.bridgePointsInvited, people: s.people })}</p>
                    {s.delegatesInvited > 0 ? <p>{t("rollcall.confirmed", { confirmed: s.confirmed, invited: s.delegatesInvited })}</p> : null}
                    {s.quorum ? (
                        <p class={s.quorum.reached ? "ok" : "bad"}>
                            {t(s.quorum.reached ? "rollcall.quorum.ok" : "rollcall.quorum.no", { present: s.quorum.present, required: s.quorum.required })}
                        </p>
                    ) : null}
                </div>
            )}
            <div class="row">
                {canStart ? <button type="button" onClick={() => { run(async () => { await screen.rollcall?.start(); }); }}>{t("rollcall.start")}</button> : null}
                {s?.open ? <button type="button" onClick={() => { run(async () => { await screen.rollcall?.close(); }); }}>{t("rollcall.close")}</button> : null}
            </div>
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </section>
    );
}

/** Move a request up or down the queue; the focus stays on the moved request's button. */
function useReorder(state: MeetingState, run: (f: () => Promise<unknown>) => void) {
    const [focus, setFocus] = useState<{ subject: string; by: -1 | 1 } | null>(null);
    useEffect(() => {
        if (!focus) return;
        const li = document.querySelector(`[data-list=requests] li[data-subject="${CSS.escape(focus.subject)}"]`);
        const want = li?.querySelector<HTMLButtonElement>(`button[data-action=${focus.by < 0 ? "up" : "down"}]`);
        const other = li?.querySelector<HTMLButtonElement>(`button[data-action=${focus.by < 0 ? "down" : "up"}]`);
        (want && !want.disabled ? want : other)?.focus();
    }, [focus, state.floor]);
    return (subject: string, by: -1 | 1) => {
        const order = moved(requests(state).map((e) => e.subject), subject, by);
        if (!order) return;
        run(async () => {
            await screen.floor?.reorder(order);
            setFocus({ subject, by });
        });
    };
}

function FloorPanel(props: { state: MeetingState; limit: string; setLimit: (v: string) => void }) {
    const [error, run] = useAction();
    const held = speakers(props.state);
    const asked = requests(props.state);
    const limitSeconds = limitFromMinutes(props.limit);
    const move = useReorder(props.state, run);
    return (
        <section class="panel" aria-labelledby="floor-h">
            <h2 id="floor-h">{t("floor.title")}</h2>
            <h3>{t("floor.speaking")}</h3>
            {held.length === 0 ? <p class="muted">{t("floor.nobody")}</p> : null}
            <ul class="plain queue" data-list="speaking">
                {held.map((e) => (
                    <li key={e.subject} data-subject={e.subject}>
                        <strong>{e.name}</strong>
                        <span>{e.muted ? <span class="bad">{t("floor.muted")} · </span> : null}<SpeakTimer entry={e} clock={screen.live?.stream} /></span>
                        <div class="row">
                            <button type="button" class="secondary" data-action="mute"
                                onClick={() => { run(async () => { await screen.floor?.mute(e.subject, !e.muted); }); }}>
                                {e.muted ? t("floor.unmute") : t("floor.mute")}
                            </button>
                            <button type="button" class="danger" data-action="revoke"
                                onClick={() => { run(async () => { await screen.floor?.revoke(e.subject); }); }}>
                                {t("floor.revoke")}
                            </button>
                        </div>
                    </li>
                ))}
            </ul>
            <h3>{t("floor.queue")}</h3>
            <label class="row">
                {t("floor.limit")}
                <input name="limit" inputMode="decimal" size={4} value={props.limit} aria-describedby="limit-help"
                    onInput={(ev) => { props.setLimit((ev.currentTarget).value); }} />
            </label>
            <p id="limit-help" class="muted">{limitSeconds ? t("floor.limitSet", { time: formatDuration(limitSeconds) }) : t("floor.limitNone")}</p>
            {asked.length === 0 ? <p class="muted">{t("floor.queueEmpty")}</p> : null}
            <ol class="plain queue" data-list="requests">
                {asked.map((e, n) => (
                    <li key={e.subject} data-subject={e.subject}>
                        <strong>{n + 1}. {e.name}</strong>
                        <div class="row">
                            <button type="button" class="secondary" data-action="up" disabled={n === 0}
                                aria-label={t("floor.moveUp", { name: e.name })} title={t("floor.moveUp", { name: e.name })}
                                onClick={() => { move(e.subject, -1); }}>
                                ↑
                            </button>
                            <button type="button" class="secondary" data-action="down" disabled={n === asked.length - 1}
                                aria-label={t("floor.moveDown", { name: e.name })} title={t("floor.moveDown", { name: e.name })}
                                onClick={() => { move(e.subject, 1); }}>
                                ↓
                            </button>
                            <button type="button" data-action="grant"
                                onClick={() => { run(async () => { await screen.floor?.grant(e.subject, limitSeconds); }); }}>
                                {t("floor.grant")}
                            </button>
                            <button type="button" class="secondary" data-action="revoke"
                                onClick={() => { run(async () => { await screen.floor?.revoke(e.subject); }); }}>
                                {t("floor.revoke")}
                            </button>
                        </div>
                    </li>
                ))}
            </ol>
            {error ? <p class="bad" role="alert">{error}</p> : null}
            <SpeechLog state={props.state} />
        </section>
    );
}

/** The speech log (who spoke, from when, how long, how it ended), for the secretary's
 * minutes: read when opened and again after each change of the floor. */
function SpeechLog(props: { state: MeetingState }) {
    const [open, setOpen] = useState(false);
    const [log, setLog] = useState<SpeechOut[]>([]);
    const [error, run] = useAction();
    const floor = props.state.floor;
    useEffect(() => {
        if (!open) return;
        run(async () => { setLog((await screen.floor?.speeches()) ?? []); });
    }, [open, floor]);
    const collator = (a: SpeechOut, b: SpeechOut) => b.granted_at.localeCompare(a.granted_at);
    return (
        <details class="speechlog" onToggle={(ev) => { setOpen(ev.currentTarget.open); }}>
            <summary>{t("floor.log")}</summary>
            {open && log.length === 0 ? <p class="muted">{t("floor.log.empty")}</p> : null}
            {log.length > 0 ? (
                <table>
                    <thead>
                        <tr>
                            <th scope="col">{t("floor.log.who")}</th>
                            <th scope="col">{t("floor.log.from")}</th>
                            <th scope="col">{t("floor.log.length")}</th>
                            <th scope="col">{t("floor.log.end")}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {[...log].sort(collator).map((sp) => (
                            <tr key={`${sp.subject}@${sp.granted_at}`}>
                                <td>{sp.name}</td>
                                <td>{formatTime(sp.granted_at)}</td>
                                <td class="num">{sp.ended_at ? formatDuration((Date.parse(sp.ended_at) - Date.parse(sp.granted_at)) / 1000) : "—"}</td>
                                <td>{t(`floor.end.${sp.end_reason ?? "speaking"}`)}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            ) : null}
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </details>
    );
}

function Grid(props: { state: MeetingState; names: Map<number, string>; health: HealthHistory; limitSeconds: number | null }) {
    useWatch(screen.media);
    const [error, run] = useAction();
    const media = screen.media;
    const layout = media?.layout ?? null;
    const online = onlineSubjects(props.state);
    const shown = (layout?.video.slice(1) ?? []).map((s) => s.subject).filter((s): s is string => s !== null);
    const speaking = new Set(speakers(props.state).map((e) => e.subject));
    const subjects = props.state.meeting.bridge_point_ids.map((id) => `bridge_point:${String(id)}`);
    const collator = new Intl.Collator("vi");
    const nameFor = (subject: string) =>
        props.names.get(Number(subject.split(":")[1])) ?? nameOf(props.state, subject) ?? subject;
    const order = [
        ...shown.filter((s) => subjects.includes(s)),
        ...subjects.filter((s) => !shown.includes(s)).sort((a, b) =>
            Number(online.has(b)) - Number(online.has(a)) || collator.compare(nameFor(a), nameFor(b))),
    ];
    const page = layout?.page ?? 0;
    const pages = layout?.page_count ?? 1;
    const goTo = (p: number) => { run(async () => { await screen.socket?.call("rtc.page", { meeting_id: props.state.meeting.id, page: p }); }); };
    return (
        <section class="panel" aria-labelledby="grid-h">
            <div class="row" style="justify-content:space-between">
                <h2 id="grid-h">{t("grid.title", { online: subjects.filter((s) => online.has(s)).length, total: subjects.length })}</h2>
                {pages > 1 ? (
                    <div class="row">
                        <button type="button" class="secondary" disabled={page === 0} onClick={() => { goTo(page - 1); }}>{t("grid.prev")}</button>
                        <span>{t("grid.page", { page: page + 1, count: pages })}</span>
                        <button type="button" class="secondary" disabled={page + 1 >= pages} onClick={() => { goTo(page + 1); }}>{t("grid.next")}</button>
                    </div>
                ) : null}
            </div>
            <ul class="plain grid">
                {order.map((subject) => {
                    const on = online.has(subject);
                    const stream = media?.videoOf(subject) ?? null;
                    const q = quality(props.health.latest.get(subject));
                    const name = nameFor(subject);
                    return (
                        <li key={subject} class={`tile${on ? "" : " offline"}${speaking.has(subject) ? " speaking" : ""}`} data-subject={subject} data-online={String(on)}>
                            <div class="thumb">{stream ? <Video stream={stream} label={name} subject={subject} /> : t("grid.noVideo")}</div>
                            <div class="meta">
                                <span class="name" title={name}>{name}</span>
                                <span><span class={`dot ${on ? "on" : "off"}`} aria-hidden="true" />{on ? t("grid.online") : t("grid.offline")}</span>
                                {on ? <span class="muted" data-quality={q}>{t(`link.${q}`)}</span> : null}
                                {on && !speaking.has(subject) ? (
                                    <button type="button" class="secondary" aria-label={`${t("floor.grant")}: ${name}`}
                                        onClick={() => { run(async () => { await screen.floor?.grant(subject, props.limitSeconds); }); }}>
                                        {t("floor.grant")}
                                    </button>
                                ) : null}
                            </div>
                        </li>
                    );
                })}
            </ul>
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </section>
    );
}

function Speaker(props: { state: MeetingState }) {
    useWatch(screen.media);
    const media = screen.media;
    const subject = media?.layout?.video[0]?.subject ?? null;
    const entry = speakers(props.state).find((e) => e.subject === subject) ?? speakers(props.state)[0];
    const name = nameOf(props.state, subject ?? entry?.subject ?? null);
    return (
        <div class="speaker">
            <Video stream={media?.videoOf(subject) ?? null} label={t("video.speaker")} subject={subject} />
            <div class="caption">
                <span>{name ? `${t("floor.speaking")}: ${name}` : t("floor.nobody")}</span>
                {entry ? <SpeakTimer entry={entry} clock={screen.live?.stream} /> : null}
            </div>
        </div>
    );
}

function Console() {
    useLang();
    useWatch(screen);
    useWatch(screen.live);
    useWatch(screen.media);
    const [names, setNames] = useState(new Map<number, string>());
    const [limit, setLimit] = useState("");
    const health = useMemo(() => new HealthHistory(), []);
    const [, setTick] = useState(0);
    const state = screen.live?.state ?? null;
    const token = screen.session.token;
    useEffect(() => {
        if (!token || screen.phase !== "meeting") return;
        rest("bridge_point.list", { limit: 1000 }, token)
            .then((list: BridgePointOut[]) => { setNames(new Map(list.map((b) => [b.id, b.name]))); })
            .catch(() => undefined);
    }, [token, screen.phase]);
    useEffect(() => {
        const id = setInterval(() => {
            const live = state?.meeting.state;
            if (!screen.commands || !(live === "open" || live === "live" || live === "paused")) return;
            screen.commands.health().then((list) => { health.add(list); setTick((n) => n + 1); }).catch(() => undefined);
        }, 5_000);
        return () => { clearInterval(id); };
    }, [state?.meeting.state, health]);

    const title = t("view.chair");
    document.title = state ? `${title} — ${state.meeting.title}` : title;
    return (
        <>
            <a class="skip" href="#main">{t("skip.main")}</a>
            <Header title={title} screen={screen} />
            <ConnBanner socket={screen.socket} />
            <DeviceNotice media={screen.media} />
            <main id="main">
                {screen.phase === "login" ? <PasswordLogin screen={screen} title={title} /> : null}
                {screen.phase === "waiting" ? <Waiting screen={screen} /> : null}
                {screen.phase === "starting" || screen.phase === "choosing" || (screen.phase === "meeting" && !state) ? (
                    <p class="login" role="status">{screen.notice ?? t("meeting.loading")}</p>
                ) : null}
                {screen.phase === "meeting" && state ? (
                    <div class="chair" data-ready="true">
                        <div class="col">
                            <Controls state={state} />
                            <Agenda state={state} />
                            <RollCallPanel state={state} />
                            {state.meeting.state !== "ended" ? <MinutesPanel screen={screen} state={state} /> : null}
                        </div>
                        <div class="col" style="display:grid;gap:1em">
                            {/* once ended, the minutes editor takes the wide column's top */}
                            {state.meeting.state === "ended" ? <MinutesPanel screen={screen} state={state} /> : null}
                            <Speaker state={state} />
                            <Grid state={state} names={names} health={health} limitSeconds={limitFromMinutes(limit)} />
                            <ChairVotes screen={screen} state={state} />
                            <ChairDocuments screen={screen} state={state} />
                        </div>
                        <FloorPanel state={state} limit={limit} setLimit={setLimit} />
                        <RemoteAudio media={screen.media} />
                    </div>
                ) : null}
            </main>
        </>
    );
}

mount(<Console />, t("view.chair"));
exposeForTests(screen);
void screen.start();
