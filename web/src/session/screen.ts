// One screen's life: log in (or resume the kept token), pick the meeting, follow it live, run
// its media; and when the server ends the session, say why and go back to the login.

import type { MeetingSummaryOut, PrincipalOut } from "../generated/wire";
import { errorText, t } from "../i18n/i18n";
import { LiveMeeting } from "../meetings/live";
import { MEDIA_STATES, MeetingCommands, pickMeeting } from "../meetings/meetings";
import { Floor } from "../floor/floor";
import { RollCall } from "../rollcall/rollcall";
import { Votes } from "../votes/votes";
import { MediaSession, type MediaOptions } from "../rtc/media";
import { AUTH_CODES, MeetingSocket } from "../socket/socket";
import { ApiError, rest } from "./rest";
import { Session } from "./session";

/** `standby`: another tab of this browser runs this view (see `session/tab.ts`). */
export type Phase = "starting" | "login" | "choosing" | "waiting" | "meeting" | "standby";

export interface ScreenOptions {
    view: string;
    /** null: no media (the operator view). */
    media: MediaOptions | null;
    /** Which meetings this screen may follow, best first. */
    pick?: (list: readonly MeetingSummaryOut[], me: PrincipalOut) => MeetingSummaryOut | null;
    /** Look for a meeting again this often while there is none. */
    pollMs?: number;
    /** Once the meeting followed has ended, look for the next one and follow it (a kiosk). */
    followNext?: boolean;
}

export class Screen {
    phase: Phase = "starting";
    /** Why the last session ended, shown on the login form. */
    notice: string | null = null;
    session: Session;
    socket: MeetingSocket | null = null;
    live: LiveMeeting | null = null;
    media: MediaSession | null = null;
    floor: Floor | null = null;
    rollcall: RollCall | null = null;
    votes: Votes | null = null;
    commands: MeetingCommands | null = null;
    readonly #options: ScreenOptions;
    readonly #watchers = new Set<() => void>();
    #poll: ReturnType<typeof setTimeout> | null = null;
    #offs: (() => void)[] = [];

    constructor(options: ScreenOptions) {
        this.#options = options;
        this.session = new Session(options.view);
    }

    subscribe(f: () => void): () => void {
        this.#watchers.add(f);
        return () => this.#watchers.delete(f);
    }

    get principal(): PrincipalOut | null {
        return this.session.principal;
    }

    /** Resume the kept token, or ask for a login. */
    async start(): Promise<void> {
        try {
            const me = await this.session.resume();
            if (me) {
                await this.#enter();
                return;
            }
        } catch (exc) {
            if (!(exc instanceof ApiError && exc.status === 401)) {
                // the server is away: try again shortly, the token is still good
                this.notice = exc instanceof ApiError && exc.status >= 400 && exc.status < 500 ? errorText(exc.error) : t("conn.serverAway");
                this.#set("starting");
                this.#schedule(() => void this.start());
                return;
            }
            this.notice = errorText(exc.error);
        }
        this.#set("login");
    }

    async login(login: string, password: string): Promise<void> {
        await this.session.login(login, password);
        this.notice = null;
        await this.#enter();
    }

    /** Log in with a device credential; a session already running here (another device's
     * token) is left first. */
    async deviceLogin(credential: string): Promise<void> {
        this.#leave();
        await this.session.deviceLogin(credential);
        this.notice = null;
        await this.#enter();
    }

    /** Show the login form with `notice` (e.g. a credential from a QR code was refused). */
    askLogin(notice: string | null): void {
        this.notice = notice;
        this.#set("login");
    }

    /** Step back without forgetting the token (another tab took over); `start` resumes. */
    suspend(): void {
        this.#leave();
        this.#set("standby");
    }

    async logout(): Promise<void> {
        this.#leave();
        await this.session.logout();
        this.#set("login");
    }

    /** Follow another meeting (the chair's or operator's choice). */
    follow(meetingId: number): void {
        this.#follow(meetingId);
    }

    /** The meetings the caller may see (for a chooser). */
    meetings(): Promise<MeetingSummaryOut[]> {
        return rest("meeting.list", { limit: 100 }, this.session.token);
    }

    async #enter(): Promise<void> {
        const token = this.session.token;
        if (!token) return;
        if (!this.socket) {
            this.socket = new MeetingSocket(token);
            this.#offs.push(this.socket.subscribe(() => { this.#onSocket(); }));
        }
        await this.#choose();
    }

    async #choose(): Promise<void> {
        const me = this.session.principal;
        if (!me || this.live) return;
        this.#set("choosing");
        const asked = Number(new URLSearchParams(location.search).get("meeting"));
        let chosen: number | null = Number.isInteger(asked) && asked > 0 ? asked : null;
        if (chosen === null) {
            try {
                const list = await this.meetings();
                chosen = (this.#options.pick ?? pickMeeting)(list, me)?.id ?? null;
            } catch (exc) {
                if (exc instanceof ApiError && AUTH_CODES.has(exc.error.code)) {
                    this.#end(errorText(exc.error));
                    return;
                }
            }
        }
        if (chosen === null) {
            this.#set("waiting");
            this.#schedule(() => void this.#choose());
            return;
        }
        this.#follow(chosen);
    }

    /** While `endedId` has ended or is not open yet: follow the next meeting that is open
     * (or any next one after an end) as soon as there is one. */
    async #next(endedId: number): Promise<void> {
        const me = this.session.principal;
        if (!me || !this.#following(endedId)) return;
        try {
            const ended = this.live?.state?.meeting.state === "ended";
            const list = (await this.meetings()).filter((m) => m.id !== endedId);
            const next = (this.#options.pick ?? pickMeeting)(list, me);
            if (next && (ended || MEDIA_STATES.has(next.state)) && this.#following(endedId)) {
                this.notice = null;
                this.#follow(next.id);
                return;
            }
        } catch {
            /* away for now: ask again */
        }
        if (this.#following(endedId)) this.#schedule(() => void this.#next(endedId));
    }

    #following(meetingId: number): boolean {
        return this.live?.meetingId === meetingId;
    }

    #follow(meetingId: number): void {
        const socket = this.socket;
        if (!socket) return;
        this.#dropMeeting();
        this.notice = null;
        const live = new LiveMeeting(socket, meetingId);
        this.live = live;
        this.floor = new Floor(socket, meetingId);
        this.rollcall = new RollCall(socket, meetingId);
        this.votes = new Votes(socket, meetingId);
        this.commands = new MeetingCommands(socket, meetingId);
        if (this.#options.media) this.media = new MediaSession(socket, live, this.#options.media);
        this.#offs.push(live.subscribe(() => { this.#onMeeting(); }));
        this.#set("meeting");
    }

    #onMeeting(): void {
        const live = this.live;
        if (!live) return;
        if (live.left) {
            // out of this meeting (uninvited, role removed) but still logged in: say why and
            // wait for the next meeting this screen may follow
            this.notice = errorText(live.left);
            this.#dropMeeting();
            this.#set("waiting");
            this.#schedule(() => void this.#choose());
            return;
        }
        const state = live.state?.meeting.state;
        // a kiosk on a meeting that has ended or has not opened yet looks for a better one
        if (state && !MEDIA_STATES.has(state) && this.#options.followNext && !this.#poll) {
            this.#schedule(() => void this.#next(live.meetingId));
        }
        if (this.media && state) {
            if (MEDIA_STATES.has(state)) this.media.start();
            else if (state === "ended" && this.media.status !== "stopped") this.media.stop();
        }
        this.#changed();
    }

    #onSocket(): void {
        const closed = this.socket?.closed;
        if (closed) this.#end(errorText(closed));
        else this.#changed();
    }

    /** The server ended the session: say why, forget the token, back to the login. */
    #end(reason: string): void {
        this.notice = reason;
        this.#leave();
        this.session.forget();
        this.#set("login");
    }

    #dropMeeting(): void {
        if (this.#poll) clearTimeout(this.#poll);
        this.#poll = null;
        this.media?.close();
        this.live?.close();
        this.media = null;
        this.live = null;
        this.floor = null;
        this.rollcall = null;
        this.votes = null;
        this.commands = null;
    }

    #leave(): void {
        if (this.#poll) clearTimeout(this.#poll);
        this.#poll = null;
        this.#dropMeeting();
        for (const off of this.#offs) off();
        this.#offs = [];
        this.socket?.close();
        this.socket = null;
    }

    #schedule(f: () => void): void {
        if (this.#poll) clearTimeout(this.#poll);
        this.#poll = setTimeout(() => {
            this.#poll = null;
            f();
        }, this.#options.pollMs ?? 5_000);
    }

    #set(phase: Phase): void {
        this.phase = phase;
        this.#changed();
    }

    #changed(): void {
        for (const f of this.#watchers) f();
    }
}
