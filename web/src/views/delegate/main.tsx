// Đại biểu: the delegate's tablet view. Chair and speaker video, the agenda, ask to speak,
// confirm presence in the roll call.

import { DocumentReader } from "../../documents/panel";
import { entryOf, speakers } from "../../floor/floor";
import { t } from "../../i18n/i18n";
import type { MeetingState } from "../../meetings/state";
import { chairSubject, nameOf } from "../../presence/presence";
import { confirmedBy } from "../../rollcall/rollcall";
import { Screen } from "../../session/screen";
import { ConnBanner, DeviceNotice, Header, Waiting, PasswordLogin, RemoteAudio, Video, stateText, useAction } from "../../ui/components";
import { SpeakTimer } from "../../ui/floor";
import { useLang, useWatch } from "../../ui/hooks";
import { exposeForTests, mount } from "../../ui/mount";
import { RecordingNotice } from "../../ui/recording";
import { DelegateVote } from "../../votes/panel";
import "./delegate.css";

const screen = new Screen({ view: "delegate", media: { publish: true, video: { width: 320, height: 180 } } });

function Videos(props: { state: MeetingState }) {
    useWatch(screen.media);
    const media = screen.media;
    const chair = media?.layout?.video[0]?.subject ?? chairSubject(props.state);
    const speaker = media?.layout?.video[1]?.subject ?? speakers(props.state)[0]?.subject ?? null;
    const entry = entryOf(props.state, speaker);
    return (
        <>
            <div class="screen">
                <Video stream={media?.videoOf(chair) ?? null} label={t("video.chair")} subject={chair} />
                <div class="caption"><span>{t("video.chair")}: {nameOf(props.state, chair) ?? ""}</span></div>
            </div>
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
        </>
    );
}

function Agenda(props: { state: MeetingState }) {
    const m = props.state.meeting;
    return (
        <section class="panel" aria-labelledby="agenda-h">
            <h2 id="agenda-h">{t("agenda.title")}</h2>
            {m.agenda.length === 0 ? <p class="muted">{t("agenda.empty")}</p> : null}
            <ol class="plain agenda">
                {m.agenda.map((item, n) => (
                    <li key={item.id} aria-current={item.id === m.current_agenda_item_id ? "step" : undefined} class={item.state === "done" ? "done" : ""}>
                        {n + 1}. {item.title}
                    </li>
                ))}
            </ol>
        </section>
    );
}

function Actions(props: { state: MeetingState }) {
    const [error, run] = useAction();
    const me = screen.session.subject;
    const mine = entryOf(props.state, me);
    const m = props.state.meeting.state;
    const canAsk = m === "open" || m === "live" || m === "paused";
    const rc = props.state.rollcall;
    const confirmed = confirmedBy(rc, screen.principal?.id ?? 0);
    return (
        <section class="panel actions" aria-labelledby="actions-h">
            <h2 id="actions-h">{t("floor.title")}</h2>
            <div class="row">
                {mine?.state === "granted" ? (
                    <>
                        <strong class="ok" role="status">{t("floor.youSpeak")}</strong>
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
            </div>
            {rc?.state === "open" ? (
                <div class="row">
                    <strong>{t("rollcall.open")}</strong>
                    {confirmed ? <span class="ok" role="status">{t("rollcall.youConfirmed")}</span> : (
                        <button type="button" data-action="confirm" onClick={() => { run(async () => { await screen.rollcall?.confirm(); }); }}>{t("rollcall.confirm")}</button>
                    )}
                </div>
            ) : null}
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </section>
    );
}

function Reader() {
    useLang();
    useWatch(screen);
    useWatch(screen.live);
    const state = screen.live?.state ?? null;
    const title = t("view.delegate");
    document.title = state ? `${title} — ${state.meeting.title}` : title;
    const m = state?.meeting.state;
    return (
        <>
            <Header title={state ? `${title} — ${state.meeting.title}` : title} screen={screen}>
                {state ? <span data-state={m}>{stateText(state.meeting.state)}</span> : null}
                {state ? <RecordingNotice state={state} /> : null}
            </Header>
            <ConnBanner socket={screen.socket} />
            <DeviceNotice media={screen.media} />
            <main id="main">
                {screen.phase === "login" ? <PasswordLogin screen={screen} title={title} /> : null}
                {screen.phase === "waiting" ? <Waiting screen={screen} /> : null}
                {screen.phase !== "login" && screen.phase !== "waiting" && !state ? <p class="login" role="status">{t("meeting.loading")}</p> : null}
                {state ? (
                    <div class="delegate">
                        {m === "open" || m === "scheduled" ? <p class="bigstate">{t("meeting.notStarted")}</p> : null}
                        {m === "paused" ? <p class="bigstate">{t("meeting.pausedBig")}</p> : null}
                        {m === "ended" ? <p class="bigstate">{t("meeting.endedBig")}</p> : null}
                        <Videos state={state} />
                        <Agenda state={state} />
                        <DelegateVote screen={screen} state={state} />
                        <Actions state={state} />
                        <DocumentReader screen={screen} state={state} />
                        <RemoteAudio media={screen.media} />
                    </div>
                ) : null}
            </main>
        </>
    );
}

mount(<Reader />, t("view.delegate"));
exposeForTests(screen);
void screen.start();
