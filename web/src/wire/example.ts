// A small proof that the generated wire types are usable (and strict): it type-checks with
// `tsc --noEmit -p web` and has no run-time role yet. The client library (session, socket,
// documents, votes) will build on the same names.

import {
    COMMANDS,
    ERROR_MESSAGES,
    STREAM_EVENTS,
    type Ack,
    type CommandName,
    type Commands,
    type EventName,
    type Events,
    type SocketCommandName,
    type StreamEventName,
    type WireError,
} from "../generated/wire";

/** A failed ack, as an exception a view can show. */
export class CommandFailed extends Error {
    readonly error: WireError;

    constructor(command: CommandName, error: WireError) {
        super(`${command}: ${error.code}: ${error.message}`);
        this.name = "CommandFailed";
        this.error = error;
    }
}

/** The answer of a successful ack; a failed one throws {@link CommandFailed}. */
export function ackOk<C extends CommandName>(command: C, ack: Ack<C>): Commands[C]["answer"] {
    if (ack.ok) return ack.data;
    throw new CommandFailed(command, ack.error);
}

/** The message to show for an error, in the user's language, placeholders filled in. */
export function errorText(error: WireError, lang: "vi" | "en", values: Record<string, string> = {}): string {
    const template = ERROR_MESSAGES[error.code][lang];
    return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** What a socket must offer: emit a command with its payload, get its ack. */
export type Emit = <C extends SocketCommandName>(command: C, payload: Commands[C]["payload"]) => Promise<Ack<C>>;

/** Send `command` and resolve with its answer (typed by the command's name). */
export async function call<C extends SocketCommandName>(
    emit: Emit,
    command: C,
    payload: Commands[C]["payload"],
): Promise<Commands[C]["answer"]> {
    return ackOk(command, await emit(command, payload));
}

export function isStreamEvent(name: EventName): name is StreamEventName {
    return (STREAM_EVENTS as readonly EventName[]).includes(name);
}

/** Every stream event has its place in the meeting's sequence. */
export function seqOf(event: Events[StreamEventName]): number {
    return event.seq;
}

/** The REST binding of a command, read from the table rather than typed by hand. */
export function restPath(command: CommandName): string | null {
    return COMMANDS[command].rest?.path ?? null;
}

// -- compile-time checks: each line below must stay an error --------------------------------

export async function typeChecks(emit: Emit): Promise<readonly unknown[]> {
    const joined = await call(emit, "meeting.join", { meeting_id: 1 });
    const seq: number = joined.seq;
    // @ts-expect-error: an unknown command name
    await call(emit, "meeting.explode", { meeting_id: 1 });
    // @ts-expect-error: a payload field of the wrong type
    await call(emit, "meeting.join", { meeting_id: "1" });
    // @ts-expect-error: a required payload field left out
    await call(emit, "meeting.join", {});
    const ack: Ack<"meeting.join"> = { ok: false, error: { code: "forbidden", message: "no" } };
    // @ts-expect-error: an error code the server does not have
    const bad: Ack<"meeting.join"> = { ok: false, error: { code: "oops", message: "no" } };
    return [seq, ack, bad];
}
