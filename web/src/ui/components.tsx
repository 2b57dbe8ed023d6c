// Pieces the four views share: login forms, the connection banner, video and audio elements.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { MeetingState as WireMeetingState } from "../generated/wire";
import { errorText, t } from "../i18n/i18n";
import { ApiError } from "../session/rest";
import type { MediaSession } from "../rtc/media";
import type { Screen } from "../session/screen";
import { CommandFailed, type MeetingSocket } from "../socket/socket";
import { LangSwitch } from "./LangSwitch";
import { useLang, useWatch } from "./hooks";

/** The sentence for a failure, in the user's language. */
export function failureText(exc: unknown): string {
    if (exc instanceof ApiError || exc instanceof CommandFailed) return errorText(exc.error);
    return t("error.generic", { reason: exc instanceof Error ? exc.message : String(exc) });
}

/** Run an action from a button; show its failure in `setError`. */
export function useAction(): [string | null, (f: () => Promise<unknown>) => void] {
    const [error, setError] = useState<string | null>(null);
    return [
        error,
        (f) => {
            setError(null);
            f().catch((exc: unknown) => { setError(failureText(exc)); });
        },
    ];
}

function field(form: FormData, name: string): string {
    const v = form.get(name);
    return typeof v === "string" ? v : "";
}

export function Header(props: { title: string; screen: Screen; children?: ComponentChildren }) {
    useLang();
    useWatch(props.screen);
    const me = props.screen.principal;
    return (
        <header class="bar" role="banner">
            <h1>{props.title}</h1>
            {props.children}
            {me ? <span>{me.name}</span> : null}
            <LangSwitch />
            {me ? (
                <button type="button" class="secondary" onClick={() => void props.screen.logout()}>
                    {t("logout")}
                </button>
            ) : null}
        </header>
    );
}

export function PasswordLogin(props: { screen: Screen; title: string }) {
    useLang();
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState<string | null>(null);
    const submit = (ev: Event) => {
        ev.preventDefault();
        const form = new FormData(ev.currentTarget as HTMLFormElement);
        setBusy(true);
        setError(null);
        props.screen
            .login(field(form, "login"), field(form, "password"))
            .catch((exc: unknown) => { setError(t("login.failed", { reason: failureText(exc) })); })
            .finally(() => { setBusy(false); });
    };
    return (
        <form class="login panel" onSubmit={submit} aria-labelledby="login-title">
            <h2 id="login-title">{props.title} — {t("login.title")}</h2>
            {props.screen.notice ? <p class="banner bad" role="alert">{props.screen.notice}</p> : null}
            <label>
                {t("login.user")}
                <input name="login" autocomplete="username" required />
            </label>
            <label>
                {t("login.password")}
                <input name="password" type="password" autocomplete="current-password" required />
            </label>
            <button type="submit" disabled={busy}>{busy ? t("login.busy") : t("login.submit")}</button>
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </form>
    );
}

export function DeviceLogin(props: { screen: Screen }) {
    useLang();
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState<string | null>(null);
    const submit = (ev: Event) => {
        ev.preventDefault();
        const form = new FormData(ev.currentTarget as HTMLFormElement);
        setBusy(true);
        setError(null);
        props.screen
            .deviceLogin(field(form, "credential").trim())
            .catch((exc: unknown) => { setError(t("login.failed", { reason: failureText(exc) })); })
            .finally(() => { setBusy(false); });
    };
    return (
        <form class="login panel" onSubmit={submit} aria-labelledby="device-title">
            <h2 id="device-title">{t("login.device.title")}</h2>
            {props.screen.notice ? <p class="banner bad" role="alert">{props.screen.notice}</p> : null}
            <p class="muted">{t("login.device.help")}</p>
            <label>
                {t("login.device.credential")}
                <input name="credential" autocomplete="off" spellcheck={false} required />
            </label>
            <button type="submit" disabled={busy}>{busy ? t("login.busy") : t("login.device.submit")}</button>
            {error ? <p class="bad" role="alert">{error}</p> : null}
        </form>
    );
}

/** "Đang kết nối lại…" while the socket is down; nothing while it is up. */
export function ConnBanner(props: { socket: MeetingSocket | null; big?: boolean }) {
    useLang();
    useWatch(props.socket);
    const state = props.socket?.state;
    if (!state || state === "online" || state === "closed") return null;
    return (
        <div class={`banner warn${props.big ? " big" : ""}`} role="status" aria-live="polite" data-conn={state}>
            {state === "reconnecting" ? t("conn.reconnecting") : t("conn.connecting")}
        </div>
    );
}

/** A video element showing `stream` (set only when it has tracks, see the browser recipe). */
export function Video(props: { stream: MediaStream | null; label: string; subject?: string | null; mirror?: boolean }) {
    const ref = useRef<HTMLVideoElement>(null);
    useEffect(() => {
        const el = ref.current;
        if (!el) return;
        const stream = props.stream && props.stream.getTracks().length > 0 ? props.stream : null;
        if (el.srcObject !== stream) el.srcObject = stream;
        if (stream) el.play().catch(() => undefined);
    }, [props.stream]);
    return (
        <video
            ref={ref}
            autoplay
            playsInline
            muted
            aria-label={props.label}
            data-subject={props.subject ?? ""}
            style={props.mirror ? "transform:scaleX(-1)" : undefined}
        />
    );
}

/** One hidden audio element per audio stream `media` receives, kept up to date with its
 * layout by itself (a slot may arrive when nothing else on the page changes). */
export function RemoteAudio(props: { media: MediaSession | null }) {
    useWatch(props.media);
    return (
        <div class="visually-hidden" aria-hidden="true">
            {(props.media?.audioStreams() ?? []).map((s) => <Audio key={s.id} stream={s} />)}
        </div>
    );
}

function Audio(props: { stream: MediaStream }) {
    const ref = useRef<HTMLAudioElement>(null);
    useEffect(() => {
        const el = ref.current;
        if (!el) return;
        el.srcObject = props.stream;
        el.play().catch(() => undefined);
    }, [props.stream]);
    return <audio ref={ref} autoplay />;
}

export function stateText(state: WireMeetingState): string {
    return t(`meeting.state.${state}`);
}

/** What the camera or microphone problem is and what to do, with a "try again"; nothing
 * when both work. The screen keeps receiving meanwhile. */
export function DeviceNotice(props: { media: MediaSession | null; big?: boolean }) {
    useLang();
    useWatch(props.media);
    const issue = props.media?.device;
    if (!props.media || !issue) return null;
    const media = props.media;
    return (
        <div class={`banner bad device${props.big ? " big" : ""}`} role="alert" data-device={issue.problem} data-missing={issue.what}>
            <span>{t(`device.${issue.problem}`, { what: t(`device.what.${issue.what}`) })}</span>
            {" "}
            <button type="button" class="secondary" onClick={() => { media.retryDevices(); }}>{t("device.retry")}</button>
        </div>
    );
}

/** No meeting to follow now (it checks again by itself); why the last one was left, if so. */
export function Waiting(props: { screen: Screen }) {
    useLang();
    return (
        <div class="login" role="status">
            {props.screen.notice ? <p class="banner bad">{t("session.left", { reason: props.screen.notice })}</p> : null}
            <p>{t("meeting.none")}</p>
        </div>
    );
}
