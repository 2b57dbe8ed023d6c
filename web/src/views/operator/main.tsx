// Kỹ thuật: the operator's view. Units and bridge points, which are online in the meeting
// watched, and the live link health of each with a sparkline of the last minutes; a bridge
// point added or given a new credential shows it once with a QR code for the room screen; a
// test call with one bridge point before the meeting.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { BridgePointOut, MediaHealthOut, MeetingSummaryOut, NewBridgePointOut, UnitOut } from "../../generated/wire";
import { HealthHistory, quality, sparkline } from "../../health/health";
import { formatNumber, formatPercent, formatTime, t } from "../../i18n/i18n";
import { onlineSubjects } from "../../presence/presence";
import { rest } from "../../session/rest";
import { TestCall } from "../../rtc/testcall";
import { Screen } from "../../session/screen";
import { kioskUrl } from "../../session/session";
import { ConnBanner, DeviceNotice, Header, PasswordLogin, RemoteAudio, Video, failureText, stateText, useAction } from "../../ui/components";
import { QrCode } from "../../ui/qr";
import { useLang, useWatch } from "../../ui/hooks";
import { exposeForTests, mount } from "../../ui/mount";
import "./operator.css";

const screen = new Screen({ view: "operator", media: null });

/** The test call running now (one at a time), for the view and the end-to-end test. */
const calls: { current: TestCall | null } = { current: null };

/** A new device credential, shown once: the code, the kiosk URL and its QR code. */
function CredentialDialog(props: { issued: NewBridgePointOut; onClose: () => void }) {
    useLang();
    const ref = useRef<HTMLDialogElement>(null);
    useEffect(() => {
        const d = ref.current;
        if (d && !d.open) d.showModal();
    }, []);
    const name = props.issued.name;
    const url = kioskUrl(location.origin, props.issued.credential);
    return (
        <dialog ref={ref} aria-labelledby="cred-h" data-credential-for={props.issued.id} onClose={props.onClose}>
            <h2 id="cred-h">{t("ops.cred.title", { name })}</h2>
            <p>{t("ops.cred.once")}</p>
            <div class="cred">
                <QrCode text={url} size={240} label={t("ops.cred.qr", { name })} />
                <dl>
                    <dt>{t("ops.cred.code")}</dt>
                    <dd><code class="secret" data-credential>{props.issued.credential}</code></dd>
                    <dt>{t("ops.cred.url")}</dt>
                    <dd><code class="secret" data-kiosk-url>{url}</code></dd>
                </dl>
            </div>
            <form method="dialog" class="row">
                <button type="submit" autofocus>{t("ops.cred.close")}</button>
            </form>
        </dialog>
    );
}

function AddBridgePoint(props: { units: UnitOut[]; onIssued: (n: NewBridgePointOut) => void }) {
    useLang();
    const [error, run] = useAction();
    const submit = (ev: Event) => {
        ev.preventDefault();
        const form = ev.currentTarget as HTMLFormElement;
        const data = new FormData(form);
        const text = (key: string) => { const v = data.get(key); return typeof v === "string" ? v.trim() : ""; };
        const room = text("room");
        run(async () => {
            const issued = await rest("bridge_point.create", {
                unit_id: Number(data.get("unit")),
                name: text("name"),
                ...(room ? { room } : {}),
            }, screen.session.token);
            form.reset();
            props.onIssued(issued);
        });
    };
    return (
        <form class="panel addbp" onSubmit={submit} aria-labelledby="add-h">
            <h2 id="add-h">{t("ops.add")}</h2>
            <label>{t("ops.add.unit")}
                <select name="unit" required>
                    {props.units.map((u) => <option key={u.id} value={u.id}>{u.name}</option>)}
                </select>
            </label>
            <label>{t("ops.add.name")}<input name="name" required maxLength={200} /></label>
            <label>{t("ops.add.room")}<input name="room" maxLength={200} /></label>
            <button type="submit">{t("ops.add.submit")}</button>
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </form>
    );
}

function Figures(props: { h: MediaHealthOut | undefined; who: string }) {
    const h = props.h;
    return (
        <div class="figures" data-figures={props.who}>
            <span>{t("ops.col.bitrate")}</span><span class="num" data-fig="bitrate">{h ? formatNumber(h.bitrate_in / 1000) : "—"}</span>
            <span>{t("ops.col.loss")}</span><span class="num">{h ? formatPercent(h.loss_in) : "—"}</span>
            <span>{t("ops.col.rtt")}</span><span class="num">{h?.rtt_ms != null ? formatNumber(h.rtt_ms) : "—"}</span>
            <span>{t("ops.col.fps")}</span><span class="num" data-fig="fps">{h ? formatNumber(h.fps_in, 1) : "—"}</span>
        </div>
    );
}

function TestCallPanel(props: { call: TestCall; name: string; onClose: () => void }) {
    useLang();
    useWatch(props.call);
    const [error, run] = useAction();
    const call = props.call;
    const remote = call.media.videoOf(call.bridgeSubject);
    return (
        <section class="panel testcall" aria-labelledby="call-h" data-test-call={call.meetingId} data-joined={String(call.joined)}>
            <div class="row" style="justify-content:space-between">
                <h2 id="call-h">{t("ops.test.title", { name: props.name })}</h2>
                {call.ended ? (
                    <button type="button" class="secondary" onClick={props.onClose}>{t("ops.cred.close")}</button>
                ) : (
                    <button type="button" class="danger" data-action="end-call"
                        onClick={() => { run(async () => { await call.end(); }); }}>
                        {t("ops.test.end")}
                    </button>
                )}
            </div>
            <DeviceNotice media={call.media} />
            {call.ended ? <p role="status">{t("ops.test.ended")}</p> : !call.joined ? <p role="status" class="muted">{t("ops.test.waiting")}</p> : null}
            <div class="callvideos">
                <figure>
                    <div class="screen"><Video stream={remote} label={t("ops.test.remote")} subject={call.bridgeSubject} /></div>
                    <figcaption>{t("ops.test.them")}: {props.name}</figcaption>
                    <Figures h={call.latest(call.bridgeSubject)} who="bridge" />
                </figure>
                <figure>
                    <div class="screen"><Video stream={call.media.local} label={t("ops.test.self")} mirror /></div>
                    <figcaption>{t("ops.test.you")}</figcaption>
                    <Figures h={call.latest(call.ownSubject)} who="self" />
                </figure>
            </div>
            <RemoteAudio media={call.media} />
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </section>
    );
}

function Spark(props: { values: number[]; label: string }) {
    return (
        <svg width="120" height="28" viewBox="0 0 120 28" role="img" aria-label={props.label}>
            <polyline fill="none" stroke="#0b5cad" stroke-width="2" points={sparkline(props.values, 120, 26)} />
        </svg>
    );
}

function Operator() {
    useLang();
    useWatch(screen);
    useWatch(screen.live);
    const token = screen.session.token;
    const [units, setUnits] = useState<UnitOut[]>([]);
    const [points, setPoints] = useState<BridgePointOut[]>([]);
    const [meetings, setMeetings] = useState<MeetingSummaryOut[]>([]);
    const [error, setError] = useState<string | null>(null);
    const history = useMemo(() => new HealthHistory(), []);
    const [updated, setUpdated] = useState<Date | null>(null);
    const state = screen.live?.state ?? null;
    const meetingId = screen.live?.meetingId ?? null;
    const [issued, setIssued] = useState<NewBridgePointOut | null>(null);
    const [call, setCall] = useState<TestCall | null>(null);
    const [actionError, run] = useAction();
    const [reload, setReload] = useState(0);
    const startCall = (b: BridgePointOut) => {
        run(async () => {
            const socket = screen.socket;
            const own = screen.session.subject;
            if (!socket || !own) return;
            calls.current?.close();
            const c = await TestCall.start(socket, b.id, own, { publish: true, video: { width: 640, height: 360 } });
            calls.current = c;
            setCall(c);
        });
    };
    const resetCredential = (b: BridgePointOut) => {
        if (!confirm(t("ops.reset.confirm", { name: b.name }))) return;
        run(async () => { setIssued(await rest("bridge_point.rotate_credential", { bridge_point_id: b.id }, token)); });
    };

    useEffect(() => {
        if (!token || screen.phase === "login") return;
        Promise.all([
            rest("unit.list", { limit: 1000 }, token),
            rest("bridge_point.list", { limit: 1000 }, token),
            rest("meeting.list", { limit: 100 }, token),
        ]).then(([u, b, m]) => { setUnits(u); setPoints(b); setMeetings(m); })
            .catch((exc: unknown) => { setError(failureText(exc)); });
    }, [token, screen.phase, reload]);

    useEffect(() => {
        if (!token || meetingId === null) return;
        const poll = () => {
            rest("media.health", { meeting_id: meetingId }, token)
                .then((list: MediaHealthOut[]) => { history.add(list); setUpdated(new Date()); })
                .catch(() => undefined);
        };
        poll();
        const id = setInterval(poll, 5_000);
        return () => { clearInterval(id); };
    }, [token, meetingId, history]);

    const online = onlineSubjects(state);
    const unitName = new Map(units.map((u) => [u.id, u.name]));
    const title = t("view.operator");
    document.title = title;
    return (
        <>
            <Header title={title} screen={screen} />
            <ConnBanner socket={screen.socket} />
            <main id="main">
                {screen.phase === "login" ? <PasswordLogin screen={screen} title={title} /> : (
                    <div class="ops">
                        <section class="panel" aria-labelledby="units-h">
                            <h2 id="units-h">{t("ops.units")}</h2>
                            <ul class="plain units">
                                {units.map((u) => (
                                    <li key={u.id}>{u.name} <span class="muted">({t(`ops.kind.${u.kind}`)})</span></li>
                                ))}
                            </ul>
                            <label style="display:grid;gap:.3em;margin-top:1em">
                                <strong>{t("ops.meeting")}</strong>
                                <select value={meetingId ?? ""} onChange={(ev) => { screen.follow(Number((ev.currentTarget).value)); }}>
                                    {meetings.map((m) => <option key={m.id} value={m.id}>{m.title} — {stateText(m.state)}</option>)}
                                </select>
                            </label>
                            {error ? <p class="bad" role="alert">{error}</p> : null}
                        </section>
                        <section class="panel" aria-labelledby="health-h">
                            <h2 id="health-h">{t("ops.health")}</h2>
                            {updated ? <p class="muted">{t("ops.updated", { time: formatTime(updated) })}</p> : null}
                            <table>
                                <thead>
                                    <tr>
                                        <th scope="col">{t("ops.col.name")}</th>
                                        <th scope="col">{t("ops.col.unit")}</th>
                                        <th scope="col">{t("ops.col.state")}</th>
                                        <th scope="col">{t("ops.col.bitrate")}</th>
                                        <th scope="col">{t("ops.col.loss")}</th>
                                        <th scope="col">{t("ops.col.rtt")}</th>
                                        <th scope="col">{t("ops.col.fps")}</th>
                                        <th scope="col">{t("ops.col.history")}</th>
                                        <th scope="col">{t("ops.col.actions")}</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {points.map((b) => {
                                        const subject = `bridge_point:${String(b.id)}`;
                                        const h = history.latest.get(subject);
                                        const on = online.has(subject);
                                        const q = quality(h);
                                        return (
                                            <tr key={b.id} data-subject={subject} data-online={String(on)}>
                                                <td>{b.name}</td>
                                                <td>{unitName.get(b.unit_id) ?? ""}</td>
                                                <td>
                                                    <span class={`dot ${on ? "on" : "off"}`} aria-hidden="true" />
                                                    {b.disabled ? t("ops.disabled") : on ? t("grid.online") : t("grid.offline")}
                                                    {on && h ? <span class="muted"> · {t(`link.${q}`)}</span> : null}
                                                </td>
                                                {h ? (
                                                    <>
                                                        <td class="num">{formatNumber(h.bitrate_in / 1000)}</td>
                                                        <td class="num">{formatPercent(h.loss_in)}</td>
                                                        <td class="num">{h.rtt_ms === null ? "—" : formatNumber(h.rtt_ms)}</td>
                                                        <td class="num">{formatNumber(h.fps_in, 1)}</td>
                                                        <td><Spark values={(history.samples.get(subject) ?? []).map((s) => s.bitrate)} label={`${t("ops.col.history")}: ${b.name}`} /></td>
                                                    </>
                                                ) : <td colSpan={5} class="muted">{t("ops.noHealth")}</td>}
                                                <td class="row">
                                                    <button type="button" data-action="test-call" disabled={b.disabled || (call !== null && !call.ended)}
                                                        aria-label={t("ops.test.label", { name: b.name })} onClick={() => { startCall(b); }}>
                                                        {t("ops.test")}
                                                    </button>
                                                    <button type="button" class="secondary" data-action="reset"
                                                        aria-label={t("ops.reset.label", { name: b.name })} onClick={() => { resetCredential(b); }}>
                                                        {t("ops.reset")}
                                                    </button>
                                                </td>
                                            </tr>
                                        );
                                    })}
                                </tbody>
                            </table>
                            {actionError ? <p class="bad" role="alert">{actionError}</p> : null}
                        </section>
                        {call ? (
                            <TestCallPanel call={call} name={points.find((b) => `bridge_point:${String(b.id)}` === call.bridgeSubject)?.name ?? call.bridgeSubject}
                                onClose={() => { call.close(); calls.current = null; setCall(null); }} />
                        ) : null}
                        <AddBridgePoint units={units} onIssued={(n) => { setIssued(n); setReload((x) => x + 1); }} />
                        {issued ? <CredentialDialog issued={issued} onClose={() => { setIssued(null); }} /> : null}
                    </div>
                )}
            </main>
        </>
    );
}

mount(<Operator />, t("view.operator"));
exposeForTests(screen, { calls });
void screen.start();
