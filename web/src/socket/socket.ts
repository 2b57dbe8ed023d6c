// The socket: one socket.io connection per screen, authenticated with the token, commands by
// their generated names with a typed ack, events by their generated names.

import { io } from "socket.io-client";
import {
    EVENTS,
    type Commands,
    type EventName,
    type Events,
    type SocketCommandName,
    type WireError,
} from "../generated/wire";

/** A failed ack (or a command that could not be sent), as an exception a view can show. */
export class CommandFailed extends Error {
    readonly error: WireError;

    constructor(command: string, error: WireError) {
        super(`${command}: ${error.code}: ${error.message}`);
        this.name = "CommandFailed";
        this.error = error;
    }
}

/** What the client needs of a socket.io socket (the real one, or a fake in tests). */
export interface WireSocket {
    readonly connected: boolean;
    readonly active: boolean;
    on(event: string, f: (...args: never[]) => void): unknown;
    onAny(f: (event: string, ...args: unknown[]) => void): unknown;
    emit(event: string, payload: unknown, ack: (answer: unknown) => void): unknown;
    connect(): unknown;
    disconnect(): unknown;
}

export type ConnState = "connecting" | "online" | "reconnecting" | "closed";

/** Why the server ended this screen's session. */
export interface Closed {
    code: string;
    message: string;
}

/** The codes that end a session: back to the login (or the device credential). */
export const AUTH_CODES: ReadonlySet<string> = new Set(["unauthenticated", "token_expired", "revoked"]);
const KNOWN_EVENTS: ReadonlySet<string> = new Set(EVENTS);

export interface SocketOptions {
    url?: string;
    ackTimeoutMs?: number;
    /** A socket for tests; by default socket.io-client at path /socket.io over websocket. */
    socket?: WireSocket;
}

export class MeetingSocket {
    state: ConnState = "connecting";
    /** Set when the server closed the session for good (revoked, expired, refused). */
    closed: Closed | null = null;
    /** Why the server last dropped this connection without ending the session (cleared on
     * the next connection). */
    dropped: Closed | null = null;
    readonly #socket: WireSocket;
    readonly #ackTimeoutMs: number;
    readonly #handlers = new Map<string, Set<(ev: never) => void>>();
    readonly #connectHandlers = new Set<() => void>();
    readonly #watchers = new Set<() => void>();
    #everConnected = false;
    #retry: ReturnType<typeof setTimeout> | null = null;

    constructor(token: string, options: SocketOptions = {}) {
        this.#ackTimeoutMs = options.ackTimeoutMs ?? 15_000;
        this.#socket =
            options.socket ??
            (io(options.url ?? "", {
                path: "/socket.io",
                transports: ["websocket"],
                auth: { token },
                reconnectionDelay: 300,
                reconnectionDelayMax: 2_000,
                randomizationFactor: 0.3,
            }));
        const s = this.#socket;
        s.on("connect", () => {
            this.#everConnected = true;
            this.dropped = null;
            this.#set("online");
            for (const f of this.#connectHandlers) f();
        });
        s.on("disconnect", (reason: string) => {
            if (this.closed) return;
            this.#set(this.#everConnected ? "reconnecting" : "connecting");
            // The server closed us without saying why (e.g. a restart's last words): try again.
            if (reason === "io server disconnect") this.#reconnectSoon();
        });
        s.on("connect_error", (err: Error & { data?: { code?: string; message?: string } }) => {
            const code = err.data?.code;
            if (code && AUTH_CODES.has(code)) {
                this.#close({ code, message: err.data?.message ?? err.message });
                return;
            }
            this.#set(this.#everConnected ? "reconnecting" : "connecting");
            if (!s.active) this.#reconnectSoon();
        });
        s.onAny((event: string, ...args: unknown[]) => {
            if (!KNOWN_EVENTS.has(event)) return;
            const ev = args[0];
            if (event === "connection.closed") {
                // Only a refused login ends the session; anything else (flooding, a server
                // going away) is worth another connection with the same token.
                const c = ev as Events["connection.closed"];
                if (AUTH_CODES.has(c.code)) this.#close({ code: c.code, message: c.message });
                else {
                    this.dropped = { code: c.code, message: c.message };
                    this.#reconnectSoon(c.code === "rate_limited" ? 2_000 : 500);
                }
            }
            for (const f of this.#handlers.get(event) ?? []) (f as (e: unknown) => void)(ev);
        });
    }

    /** Send `command` and resolve with its typed answer; a refusal throws {@link CommandFailed}. */
    call<C extends SocketCommandName>(command: C, payload: Commands[C]["payload"]): Promise<Commands[C]["answer"]> {
        return new Promise((resolve, reject) => {
            if (!this.#socket.connected) {
                reject(new CommandFailed(command, { code: "gone", message: "not connected" }));
                return;
            }
            const timer = setTimeout(() => {
                reject(new CommandFailed(command, { code: "gone", message: "no answer in time" }));
            }, this.#ackTimeoutMs);
            this.#socket.emit(command, payload, (answer: unknown) => {
                clearTimeout(timer);
                const ack = answer as { ok: true; data: Commands[C]["answer"] } | { ok: false; error: WireError };
                if (ack.ok) resolve(ack.data);
                else reject(new CommandFailed(command, ack.error));
            });
        });
    }

    /** Call `f` with each `event` (typed by its name); answers a function that stops it. */
    on<E extends EventName>(event: E, f: (ev: Events[E]) => void): () => void {
        let set = this.#handlers.get(event);
        if (!set) this.#handlers.set(event, (set = new Set()));
        set.add(f);
        return () => set.delete(f);
    }

    /** Call `f` after every (re)connection, before anything else is sent. */
    onConnect(f: () => void): () => void {
        this.#connectHandlers.add(f);
        if (this.#socket.connected) f();
        return () => this.#connectHandlers.delete(f);
    }

    /** Watch the connection state (for the "Đang kết nối lại…" banner). */
    subscribe(f: () => void): () => void {
        this.#watchers.add(f);
        return () => this.#watchers.delete(f);
    }

    get connected(): boolean {
        return this.#socket.connected;
    }

    close(): void {
        if (this.#retry) clearTimeout(this.#retry);
        this.#set("closed");
        this.#socket.disconnect();
    }

    #close(reason: Closed): void {
        this.closed = reason;
        this.close();
    }

    #reconnectSoon(ms = 500): void {
        if (this.#retry || this.closed) return;
        this.#retry = setTimeout(() => {
            this.#retry = null;
            if (!this.closed && !this.#socket.connected) this.#socket.connect();
        }, ms);
    }

    #set(state: ConnState): void {
        if (this.state === state) return;
        this.state = state;
        for (const f of this.#watchers) f();
    }
}
