// REST calls by command name: the method and path come from the generated command table,
// so a wrong name or a wrong payload fails tsc, and no path is typed by hand.

import { COMMANDS, type Commands, type RestCommandName, type WireError } from "../generated/wire";

/** A failed REST call, with the server's error (or `internal` for a broken answer). */
export class ApiError extends Error {
    readonly status: number;
    readonly error: WireError;

    constructor(status: number, error: WireError) {
        super(`${String(status)} ${error.code}: ${error.message}`);
        this.name = "ApiError";
        this.status = status;
        this.error = error;
    }
}

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/** The URL, method and body of `command` with `payload`: path fields fill the placeholders,
 * the rest is the JSON body (or, for a GET, the query string). */
export function restRequest<C extends RestCommandName>(
    command: C,
    payload: Commands[C]["payload"],
): { method: string; url: string; body: string | null } {
    const binding = COMMANDS[command].rest;
    const fields = new Map(Object.entries(payload as Record<string, unknown>));
    const url = binding.path.replace(/\{(\w+)\}/g, (_whole, name: string) => {
        const value = fields.get(name);
        fields.delete(name);
        return encodeURIComponent(String(value));
    });
    const rest = Object.fromEntries(fields);
    if (binding.method === "GET" || binding.method === "DELETE") {
        const query = new URLSearchParams();
        for (const [k, v] of Object.entries(rest)) {
            if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") query.set(k, String(v));
        }
        const qs = query.toString();
        return { method: binding.method, url: qs ? `${url}?${qs}` : url, body: binding.method === "DELETE" && Object.keys(rest).length ? JSON.stringify(rest) : null };
    }
    return { method: binding.method, url, body: JSON.stringify(rest) };
}

/** Call `command` over REST and answer its typed `data`; a failure throws {@link ApiError}. */
export async function rest<C extends RestCommandName>(
    command: C,
    payload: Commands[C]["payload"],
    token: string | null,
    fetcher: Fetch = (input, init) => fetch(input, init),
): Promise<Commands[C]["answer"]> {
    const { method, url, body } = restRequest(command, payload);
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== null) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    let response: Response;
    try {
        response = await fetcher(url, { method, headers, body });
    } catch (exc) {
        throw new ApiError(0, { code: "internal", message: exc instanceof Error ? exc.message : String(exc) });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
        parsed = text ? JSON.parse(text) : {};
    } catch {
        parsed = null;
    }
    if (!response.ok) {
        const error = (parsed as { error?: WireError } | null)?.error;
        throw new ApiError(response.status, error ?? { code: "internal", message: `HTTP ${String(response.status)}` });
    }
    return parsed as Commands[C]["answer"];
}
