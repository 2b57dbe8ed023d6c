// Điểm cầu: the bridge point's room screen (a kiosk on a TV). Entered once with the device
// credential; afterwards it starts by itself and joins the live (or open) meeting.

import { useEffect, useState } from "preact/hooks";
import { PresentedPage } from "../../documents/panel";
import { entryOf, speakers } from "../../floor/floor";
import { t } from "../../i18n/i18n";
import type { MeetingState } from "../../meetings/state";
import { chairSubject, nameOf } from "../../presence/presence";
import { myAnswer } from "../../rollcall/rollcall";
import { Screen } from "../../session/screen";
import { takeCredentialFromUrl } from "../../session/session";
import { TabClaim } from "../../session/tab";
import { DeviceLogin, DeviceNotice, RemoteAudio, Video, failureText, stateText, useAction } from "../../ui/components";
import { SpeakTimer } from "../../ui/floor";
import { LangSwitch } from "../../ui/LangSwitch";
import { useLang, useWatch } from "../../ui/hooks";
import { exposeForTests, mount } from "../../ui/mount";
import { RecordingNotice } from "../../ui/recording";
import { VoteBoard } from "../../votes/panel";
import "./bridge.css";

const screen = new Screen({ view: "bridge", media: { publish: true, video: { width: 640, height: 360 } }, pollMs: 3_000, followNext: true });

/** A credential from the operator's QR code (`/diem-cau#credential=...`), taken out of the
 * address bar before anything else; used once by the next `begin`. */
let fromQr: string | null = takeCredentialFromUrl().take();

/** Log in with the QR code's credential (replacing any kept token), else resume. */
function begin(): void {
    const credential = fromQr;
    fromQr = null;
    if (!credential) {
        void screen.start();
        return;
    }
    screen.session.forget();
    screen.deviceLogin(credential).catch((exc: unknown) => {
        screen.askLogin(t("login.failed", { reason: failureText(exc) }));
    });
}

/** The QR code's URL opened on a kiosk page already at /diem-cau changes only the fragment. */
window.addEventListener("hashchange", () => {
    fromQr = takeCredentialFromUrl().take();
    if (!fromQr) return;
    if (tab.state === "active") begin();
    else tab.takeOver();
});

/** One kiosk per browser: a second tab waits on standby (see session/tab.ts). */
const tab = new TabClaim("meetingd.kiosk", begin, () => { screen.suspend(); });

/** Weak when the own link loses packets or answers slowly; checked every 2 s. */
function useWeakLink(): boolean {
    const [weak, setWeak] = useState(false);
    useEffect(() => {
        const id = setInterval(() => {
            void screen.media?.linkStats().then((s) => {
                setWeak(!!s && (s.lossFraction > 0.08 || (s.rttMs ?? 0) > 600));
            });
        }, 2_000);
        return () => { clearInterval(id); };
    }, []);
    return weak;
}

function Actions(props: { state: MeetingState }) {
    const [error, run] = useAction();
    const me = screen.session.subject;
    const mine = entryOf(props.state, me);
    const m = props.state.meeting.state;
    const canAsk = m === "open" || m === "live" || m === "paused";
    const rc = props.state.rollcall;
    const bpId = screen.principal?.id ?? 0;
    const answered = myAnswer(rc, bpId);
    const [count, setCount] = useState("");
    return (
        <div class="actions" role="region" aria-label={t("floor.title")}>
            {mine?.state === "granted" ? (
                <>
                    <span class="you" role="status">{t("floor.youSpeak")}</span>
                    <SpeakTimer entry={mine} clock={screen.live?.stream} />
                    <button type="button" onClick={() => { run(async () => { await screen.floor?.revoke(me ?? ""); }); }}>{t("floor.done")}</button>
                </>
            ) : mine?.state === "requested" ? (
                <>
                    <span role="status">{t("floor.requested")}</span>
                    <button type="button" class="secondary" onClick={() => { run(async () => { await screen.floor?.withdraw(); }); }}>{t("floor.withdraw")}</button>
                </>
            ) : canAsk ? (
                <button type="button" data-action="request" onClick={() => { run(async () => { await screen.floor?.request(); }); }}>{t("floor.request")}</button>
            ) : null}
            {rc?.state === "open" ? (
                <form class="row" onSubmit={(ev) => {
                    ev.preventDefault();
                    const n = Number(count);
                    if (Number.isInteger(n) && n >= 0 && n <= 1000) run(async () => { await screen.rollcall?.answer(n); });
                }}>
                    <strong>{t("rollcall.title")}:</strong>
                    <label>
                        <span class="visually-hidden">{t("rollcall.count")}</span>
                        <input type="number" min={0} max={1000} inputMode="numeric" required value={count}
                            aria-label={t("rollcall.count")}
                            onInput={(ev) => { setCount((ev.currentTarget).value); }} />
                    </label>
                    <button type="submit">{t("rollcall.answer")}</button>
                    {answered !== null ? <span role="status">{t("rollcall.yourAnswer", { count: answered })}</span> : null}
                </form>
            ) : null}
            {error ? <span class="bad" role="alert">{error}</span> : null}
        </div>
    );
}

function Stage(props: { state: MeetingState }) {
    useWatch(screen.media);
    const media = screen.media;
    const layout = media?.layout;
    const chair = layout?.video[0]?.subject ?? chairSubject(props.state);
    const speakerSlot = layout?.video[1]?.subject ?? null;
    const speaker = speakerSlot ?? speakers(props.state)[0]?.subject ?? null;
    const entry = entryOf(props.state, speaker);
    return (
        <div class="stage">
            <PresentedPage screen={screen} state={props.state} />
            <div class="screen">
                <Video stream={media?.videoOf(chair) ?? null} label={t("video.chair")} subject={chair} />
                <div class="caption"><span>{t("video.chair")}: {nameOf(props.state, chair) ?? ""}</span></div>
            </div>
            <div class="side">
                <div class="screen">
                    <Video
                        stream={speaker !== null && speaker === screen.session.subject ? (media?.local ?? null) : (media?.videoOf(speaker) ?? null)}
                        label={t("video.speaker")}
                        subject={speaker}
                    />
                    <div class="caption">
                        <span>{speaker ? nameOf(props.state, speaker) ?? "" : t("floor.nobody")}</span>
                        {entry?.state === "granted" ? <SpeakTimer entry={entry} clock={screen.live?.stream} /> : null}
                    </div>
                </div>
                <div class="screen self">
                    <Video stream={media?.local ?? null} label={t("video.self")} mirror />
                    <div class="caption"><span>{t("video.self")}</span></div>
                </div>
            </div>
        </div>
    );
}

function Kiosk() {
    useLang();
    useWatch(screen);
    useWatch(screen.live);
    useWatch(screen.socket);
    const weak = useWeakLink();
    useWatch(tab);
    const state = screen.live?.state ?? null;
    const conn = screen.socket?.state;
    document.title = `${t("view.bridge")} — ${screen.principal?.name ?? ""}`;
    if (screen.phase === "standby") {
        return (
            <main class="kiosk" style="display:block">
                <div class="top"><h1>{t("view.bridge")}</h1><LangSwitch /></div>
                <div class="state" role="status" data-big="standby">
                    <div>
                        <p>{t("tab.standby")}</p>
                        <button type="button" data-action="take-over" onClick={() => { tab.takeOver(); }}>{t("tab.takeOver")}</button>
                    </div>
                </div>
            </main>
        );
    }
    if (screen.phase === "login") {
        return (
            <main class="kiosk" style="display:block">
                <div class="top"><h1>{t("view.bridge")}</h1><LangSwitch /></div>
                <DeviceLogin screen={screen} />
            </main>
        );
    }
    const m = state?.meeting.state;
    const big =
        conn === "reconnecting" ? t("link.lostBig")
        : screen.phase === "waiting" ? (screen.notice ? `${t("session.left", { reason: screen.notice })} ${t("meeting.none")}` : t("meeting.none"))
        : !state ? (screen.notice ?? t("meeting.loading"))
        : m === "open" || m === "scheduled" || m === "draft" ? t("meeting.notStarted")
        : m === "paused" ? t("meeting.pausedBig")
        : m === "ended" ? t("meeting.endedBig")
        : null;
    return (
        <div class="kiosk">
            <header class="top" role="banner">
                <h1>{screen.principal?.name ?? t("view.bridge")}{state ? ` — ${state.meeting.title}` : ""}</h1>
                {state ? <span data-state={state.meeting.state}>{stateText(state.meeting.state)}</span> : null}
                {state ? <RecordingNotice state={state} big /> : null}
                <LangSwitch />
            </header>
            <main id="main" style="display:contents">
                {state ? <Stage state={state} /> : <div />}
                {state ? <Actions state={state} /> : <div />}
                {state && !big ? <VoteBoard screen={screen} state={state} /> : null}
                <DeviceNotice media={screen.media} big />
                {big ? <div class="state" role="status" aria-live="polite" data-big={conn === "reconnecting" ? "reconnecting" : (m ?? screen.phase)}>{big}</div> : null}
                {!big && weak ? <div class="state weak" role="status">{t("link.weakBig")}</div> : null}
                <RemoteAudio media={screen.media} />
            </main>
        </div>
    );
}

mount(<Kiosk />, t("view.bridge"));
exposeForTests(screen, { tab });
// a tab opened from the QR code is the one the technician wants: it takes over
if (fromQr) tab.takeOver();
else tab.claim();
