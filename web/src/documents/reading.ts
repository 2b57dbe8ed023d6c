// Reading a document under reading grants: each range request carries the grant that
// `document.open` answered (no token; the server checks it without a database query), and a
// grant that runs out or is refused (the viewer's right was, or might have been, removed) is
// replaced by a new `document.open`. No pdf.js here (pdf.ts hands pdf.js's requests to it),
// so that it is tested on its own.

import type { ReadingOut } from "../generated/wire";

/** Asks the server for a (new) reading grant of the document: `document.open`. */
export type OpenReading = () => Promise<ReadingOut>;

/** The served file changed between two grants (a confidential copy stamped anew): the
 * reader opens the document again from its first byte. */
export class FileChanged extends Error {
    constructor() {
        super("the served file changed; opening it again");
        this.name = "FileChanged";
    }
}

/** A grant is renewed this long before it expires, so no range is sent with a stale one. */
export const RENEW_EARLY_MS = 15_000;
/** Refusals of one range (each followed by a new grant) before giving up on it. */
const ATTEMPTS = 3;

/** Byte ranges of one served file under its reading grants. */
export class GrantedReader {
    #reading: ReadingOut;
    readonly #open: OpenReading;
    readonly #fetch: typeof fetch;
    readonly #now: () => number;
    #renewing: Promise<ReadingOut> | null = null;

    constructor(reading: ReadingOut, open: OpenReading, fetcher: typeof fetch = fetch.bind(globalThis), now: () => number = Date.now) {
        this.#reading = reading;
        this.#open = open;
        this.#fetch = fetcher;
        this.#now = now;
    }

    /** The served file's length in bytes. */
    get size(): number {
        return this.#reading.size;
    }

    /** Bytes [begin, end) of the served file. Throws {@link FileChanged}, the new opening's
     * error (the right is gone: `not_found`), or an HTTP error. */
    async range(begin: number, end: number): Promise<Uint8Array> {
        for (let attempt = 1; ; attempt++) {
            const reading = await this.#current();
            const resp = await this.#fetch(reading.url, {
                headers: { Range: `bytes=${String(begin)}-${String(end - 1)}` },
                credentials: "omit",
            });
            if (resp.status === 206 || resp.status === 200) {
                const body = new Uint8Array(await resp.arrayBuffer());
                return resp.status === 200 ? body.subarray(begin, end) : body;
            }
            if (resp.status !== 403 || attempt >= ATTEMPTS) throw new Error(`HTTP ${String(resp.status)}`);
            await this.#renew(reading);
        }
    }

    async #current(): Promise<ReadingOut> {
        if (this.#renewing) return this.#renewing;
        if (Date.parse(this.#reading.expires_at) - RENEW_EARLY_MS <= this.#now()) return this.#renew(this.#reading);
        return this.#reading;
    }

    /** One new grant for every range that needed one (they share the request). */
    #renew(stale: ReadingOut): Promise<ReadingOut> {
        if (this.#reading !== stale) return Promise.resolve(this.#reading);
        this.#renewing ??= this.#open().then(
            (fresh) => {
                this.#renewing = null;
                if (fresh.etag !== stale.etag || fresh.size !== stale.size) throw new FileChanged();
                this.#reading = fresh;
                return fresh;
            },
            (exc: unknown) => {
                this.#renewing = null;
                throw exc;
            },
        );
        return this.#renewing;
    }
}

/** The app's own route for a reading grant's address (`base`: the page's address). A
 * recording plays and downloads from it wherever pdf.js's ranges go: a <video> asks for a
 * few large ranges, and answers them as what the file is (the reading port serves PDFs). */
export function appRoute(readingUrl: string, base: string): string {
    const url = new URL(readingUrl, base);
    return url.pathname + url.search;
}

/** Where a recording is downloaded from: {@link appRoute} with `download=true` (an
 * attachment; refused for a view-only document). */
export function downloadUrl(readingUrl: string, base: string): string {
    const url = new URL(appRoute(readingUrl, base), base);
    url.searchParams.set("download", "true");
    return url.pathname + url.search;
}

/** Recoveries of one playing recording within a minute before its error is shown. */
const VIDEO_RECOVERIES = 3;

/**
 * A recording's address for a `<video>` element, under reading grants: the element fetches
 * its ranges itself, so a grant that ran out (or was withdrawn) shows as the element's error.
 * The document is then opened again (a new grant, or the refusal when the right is gone) and
 * the element goes on from where it was; a few failures in a minute are the file's or the
 * network's, and are shown.
 */
export class VideoSource {
    readonly #open: OpenReading;
    readonly #base: string;
    readonly #now: () => number;
    #failures: number[] = [];
    reading: ReadingOut | null = null;

    constructor(open: OpenReading, base: string, now: () => number = Date.now) {
        this.#open = open;
        this.#base = base;
        this.#now = now;
    }

    /** An address under a new grant (`document.open`), on the app's own route. */
    async start(): Promise<string> {
        this.reading = await this.#open();
        return appRoute(this.reading.url, this.#base);
    }

    /** The element failed: a new address to go on with, or null when it failed too often
     * (the caller shows the error). Throws the opening's error (the right is gone). */
    async recover(): Promise<string | null> {
        const now = this.#now();
        this.#failures = [...this.#failures.filter((t) => now - t < 60_000), now];
        if (this.#failures.length > VIDEO_RECOVERIES) return null;
        return this.start();
    }
}
