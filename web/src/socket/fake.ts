// A socket.io socket in memory, for the library's tests: the test plays the server.

import type { WireSocket } from "./socket";

type Handler = (...args: never[]) => void;

export class FakeSocket implements WireSocket {
    connected = false;
    active = true;
    sent: [string, unknown][] = [];
    /** The test's server: answer each command (or return undefined to never answer). */
    server: (command: string, payload: unknown) => unknown = () => ({ ok: true, data: {} });
    readonly #handlers = new Map<string, Handler[]>();
    readonly #any: ((event: string, ...args: unknown[]) => void)[] = [];

    on(event: string, f: Handler): this {
        this.#handlers.set(event, [...(this.#handlers.get(event) ?? []), f]);
        return this;
    }

    onAny(f: (event: string, ...args: unknown[]) => void): this {
        this.#any.push(f);
        return this;
    }

    emit(event: string, payload: unknown, ack: (answer: unknown) => void): this {
        this.sent.push([event, payload]);
        const answer = this.server(event, payload);
        if (answer !== undefined) queueMicrotask(() => { ack(answer); });
        return this;
    }

    connect(): this {
        this.connected = true;
        this.fire("connect");
        return this;
    }

    disconnect(): this {
        this.connected = false;
        this.active = false;
        this.fire("disconnect", "io client disconnect");
        return this;
    }

    /** The link drops (the server went away); socket.io would retry by itself. */
    drop(): void {
        this.connected = false;
        this.fire("disconnect", "transport close");
    }

    fire(event: string, ...args: unknown[]): void {
        for (const f of this.#handlers.get(event) ?? []) (f as (...a: unknown[]) => void)(...args);
    }

    /** The server pushes an event. */
    push(event: string, payload: unknown): void {
        for (const f of this.#any) f(event, payload);
    }
}
