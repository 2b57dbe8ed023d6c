// Who is logged in on this screen: the token (kept in localStorage, one per view, so a chair
// console and a delegate reader in one browser do not share it) and the principal.

import type { PrincipalOut, TokenOut } from "../generated/wire";
import { ApiError, rest, type Fetch } from "./rest";

export interface Storage {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
    removeItem(key: string): void;
}

export class Session {
    readonly #key: string;
    readonly #storage: Storage;
    readonly #fetch: Fetch | undefined;
    #token: string | null;
    principal: PrincipalOut | null = null;

    constructor(view: string, storage: Storage = localStorage, fetcher?: Fetch) {
        this.#key = `meetingd.token.${view}`;
        this.#storage = storage;
        this.#fetch = fetcher;
        this.#token = storage.getItem(this.#key);
    }

    get token(): string | null {
        return this.#token;
    }

    /** Log in with login and password (chair, secretary, delegate, operator). */
    async login(login: string, password: string): Promise<PrincipalOut> {
        return this.#keep(await rest("auth.login", { login, password }, null, this.#fetch));
    }

    /** Log a bridge point in with its device credential; the token is kept for the next start. */
    async deviceLogin(credential: string): Promise<PrincipalOut> {
        return this.#keep(await rest("auth.device_login", { credential }, null, this.#fetch));
    }

    /** Check the kept token (GET /api/v1/auth/me); forget it when the server refuses it. */
    async resume(): Promise<PrincipalOut | null> {
        if (!this.#token) return null;
        try {
            this.principal = await rest("auth.me", {}, this.#token, this.#fetch);
            return this.principal;
        } catch (exc) {
            if (exc instanceof ApiError && exc.status === 401) this.forget();
            throw exc;
        }
    }

    async logout(): Promise<void> {
        const token = this.#token;
        this.forget();
        if (token) await rest("auth.logout", {}, token, this.#fetch).catch(() => undefined);
    }

    /** Drop the token (revoked, expired, logged out). */
    forget(): void {
        this.#token = null;
        this.principal = null;
        this.#storage.removeItem(this.#key);
    }

    /** The subject of the logged-in principal, as the floor names it (`user:5`). */
    get subject(): string | null {
        return this.principal ? `${this.principal.kind}:${String(this.principal.id)}` : null;
    }

    #keep(answer: TokenOut): PrincipalOut {
        this.#token = answer.token;
        this.principal = answer.principal;
        this.#storage.setItem(this.#key, answer.token);
        return answer.principal;
    }
}

/** A Storage in memory, for tests and for browsers that refuse localStorage. */
export class MemoryStorage implements Storage {
    readonly #items = new Map<string, string>();
    getItem(key: string): string | null {
        return this.#items.get(key) ?? null;
    }
    setItem(key: string, value: string): void {
        this.#items.set(key, value);
    }
    removeItem(key: string): void {
        this.#items.delete(key);
    }
}

/** The kiosk URL the operator's QR code holds: the bridge-point screen with the device
 * credential in the fragment (a fragment is never sent to the server or kept in its logs). */
export function kioskUrl(origin: string, credential: string): string {
    return `${origin}/diem-cau#credential=${encodeURIComponent(credential)}`;
}

/** The device credential in this page's fragment (`#credential=...`), taken out of the
 * address bar and the history entry at once so it is not left on the screen. */
export function takeCredentialFromUrl(
    loc: Pick<Location, "hash" | "pathname" | "search"> = location,
    hist: Pick<History, "replaceState" | "state"> = history,
): { present: boolean; take: () => string | null } {
    const params = new URLSearchParams(loc.hash.replace(/^#/, ""));
    let credential = params.get("credential")?.trim() ?? null;
    const present = credential !== null;
    if (present) hist.replaceState(hist.state, "", loc.pathname + loc.search);
    return {
        present,
        /** The credential, once (a later start resumes the token it gave). */
        take: () => {
            const c = credential;
            credential = null;
            return c || null;
        },
    };
}
