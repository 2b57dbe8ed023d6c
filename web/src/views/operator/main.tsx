// Kỹ thuật: the operator's view. Units and bridge points, which are online in the meeting
// watched, and the live link health of each with a sparkline of the last minutes.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { BridgePointOut, MediaHealthOut, MeetingSummaryOut, UnitOut } from "../../generated/wire";
import { HealthHistory, quality, sparkline } from "../../health/health";
import { formatNumber, formatPercent, formatTime, t } from "../../i18n/i18n";
import { onlineSubjects } from "../../presence/presence";
import { rest } from "../../session/rest";
import { Screen } from "../../session/screen";
import { ConnBanner, Header, PasswordLogin, failureText, stateText } from "../../ui/components";
import { useLang, useWatch } from "../../ui/hooks";
import { exposeForTests, mount } from "../../ui/mount";
import "./operator.css";

const screen = new Screen({ view: "operator", media: null });

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

    useEffect(() => {
        if (!token || screen.phase === "login") return;
        Promise.all([
            rest("unit.list", { limit: 1000 }, token),
            rest("bridge_point.list", { limit: 1000 }, token),
            rest("meeting.list", { limit: 100 }, token),
        ]).then(([u, b, m]) => { setUnits(u); setPoints(b); setMeetings(m); })
            .catch((exc: unknown) => { setError(failureText(exc)); });
    }, [token, screen.phase]);

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
                                            </tr>
                                        );
                                    })}
                                </tbody>
                            </table>
                        </section>
                    </div>
                )}
            </main>
        </>
    );
}

mount(<Operator />, t("view.operator"));
exposeForTests(screen);
void screen.start();
