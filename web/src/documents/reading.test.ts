import { describe, expect, it } from "vitest";
import type { ReadingOut } from "../generated/wire";
import { FileChanged, GrantedReader, RENEW_EARLY_MS, VideoSource, appRoute, downloadUrl } from "./reading";

const FILE = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
const NOW = Date.parse("2026-01-05T01:00:00Z");

function reading(n: number, over: Partial<ReadingOut> = {}): ReadingOut {
    return {
        url: `/api/v1/meetings/1/documents/2/read?grant=g${String(n)}`,
        expires_at: new Date(NOW + 600_000).toISOString(),
        size: FILE.length,
        variant: "original",
        etag: '"abc"',
        ...over,
    };
}

/** A server that serves ranges for the grants it still accepts, and counts what it saw. */
class FakeServer {
    accepted = new Set<string>(["g1"]);
    seen: { grant: string; range: string }[] = [];

    fetch = (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
        const href = typeof url === "string" ? url : url instanceof URL ? url.href : url.url;
        const grant = new URL(href, "http://x").searchParams.get("grant") ?? "";
        const range = new Headers(init?.headers).get("Range") ?? "";
        this.seen.push({ grant, range });
        if (!this.accepted.has(grant)) return Promise.resolve(new Response('{"error":{"code":"grant_refused"}}', { status: 403 }));
        const [a, b] = range.replace("bytes=", "").split("-").map(Number);
        return Promise.resolve(new Response(FILE.slice(a, (b ?? 0) + 1), { status: 206 }));
    };
}

describe("GrantedReader", () => {
    it("reads ranges under the grant, with no token", async () => {
        const server = new FakeServer();
        const r = new GrantedReader(reading(1), () => Promise.reject(new Error("not asked")), server.fetch, () => NOW);
        expect(Array.from(await r.range(10, 20))).toEqual(Array.from(FILE.slice(10, 20)));
        expect(server.seen).toEqual([{ grant: "g1", range: "bytes=10-19" }]);
    });

    it("opens again once when refused, and every waiting range shares the new grant", async () => {
        const server = new FakeServer();
        let opened = 0;
        const r = new GrantedReader(reading(1), () => {
            opened += 1;
            server.accepted = new Set(["g2"]);
            return Promise.resolve(reading(2));
        }, server.fetch, () => NOW);
        server.accepted = new Set();
        const got = await Promise.all([r.range(0, 10), r.range(10, 20), r.range(20, 30)]);
        expect(got.map((c) => Array.from(c))).toEqual([0, 10, 20].map((a) => Array.from(FILE.slice(a, a + 10))));
        expect(opened).toBe(1);
        expect(server.seen.filter((s) => s.grant === "g2")).toHaveLength(3);
    });

    it("renews before the grant expires", async () => {
        const server = new FakeServer();
        server.accepted.add("g2");
        let now = NOW;
        const r = new GrantedReader(reading(1), () => Promise.resolve(reading(2, { expires_at: new Date(NOW + 1_200_000).toISOString() })), server.fetch, () => now);
        await r.range(0, 5);
        now = NOW + 600_000 - RENEW_EARLY_MS;
        await r.range(5, 10);
        expect(server.seen.map((s) => s.grant)).toEqual(["g1", "g2"]);
    });

    it("gives up when opening again is refused (the right is gone)", async () => {
        const server = new FakeServer();
        server.accepted = new Set();
        const r = new GrantedReader(reading(1), () => Promise.reject(new Error("not_found")), server.fetch, () => NOW);
        await expect(r.range(0, 10)).rejects.toThrow("not_found");
    });

    it("stops at a file that changed between two grants", async () => {
        const server = new FakeServer();
        server.accepted = new Set();
        const r = new GrantedReader(reading(1), () => Promise.resolve(reading(2, { etag: '"other"' })), server.fetch, () => NOW);
        await expect(r.range(0, 10)).rejects.toBeInstanceOf(FileChanged);
    });

    it("does not loop on a server that keeps refusing", async () => {
        const server = new FakeServer();
        server.accepted = new Set();
        let n = 1;
        const r = new GrantedReader(reading(1), () => Promise.resolve(reading(++n)), server.fetch, () => NOW);
        await expect(r.range(0, 10)).rejects.toThrow("HTTP 403");
        expect(server.seen.length).toBe(3);
    });
});

const PAGE = "http://meet.example:8080/dai-bieu";

describe("a recording's address for a <video>", () => {
    it("opens again after the element's error, a few times a minute at most", async () => {
        let now = NOW;
        let n = 0;
        const source = new VideoSource(() => Promise.resolve(reading(++n)), PAGE, () => now);
        expect(await source.start()).toBe(reading(1).url);
        for (const grant of [2, 3, 4]) {
            now += 1000;
            expect(await source.recover()).toBe(reading(grant).url);
        }
        now += 1000;
        expect(await source.recover()).toBeNull(); // the fourth in a minute: shown
        now += 61_000;
        expect(await source.recover()).toBe(reading(5).url); // a minute later it tries again
        expect(source.reading?.url).toBe(reading(5).url);
    });

    it("passes on a refused opening (the right is gone)", async () => {
        const source = new VideoSource(() => Promise.reject(new Error("not_found")), PAGE, () => NOW);
        await expect(source.recover()).rejects.toThrow("not_found");
    });

    it("plays and downloads from the app's own route, wherever pdf.js's ranges go", async () => {
        const port = "http://meet.example:8443/api/v1/meetings/1/documents/2/read?grant=g1";
        expect(appRoute(port, PAGE)).toBe("/api/v1/meetings/1/documents/2/read?grant=g1");
        expect(downloadUrl("/api/v1/meetings/1/documents/2/read?grant=g1", PAGE)).toBe("/api/v1/meetings/1/documents/2/read?grant=g1&download=true");
        expect(downloadUrl(port, PAGE)).toBe("/api/v1/meetings/1/documents/2/read?grant=g1&download=true");
        const source = new VideoSource(() => Promise.resolve(reading(1, { url: port })), PAGE, () => NOW);
        expect(await source.start()).toBe("/api/v1/meetings/1/documents/2/read?grant=g1");
    });
});
