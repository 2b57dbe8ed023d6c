import { describe, expect, it } from "vitest";
import { ApiError, restRequest } from "./rest";
import { MemoryStorage, Session } from "./session";
import type { Fetch } from "./rest";

function fakeFetch(routes: Record<string, [number, unknown]>, seen: string[] = []): Fetch {
    return (url, init) => {
        seen.push(`${String(init.method)} ${url} ${typeof init.body === "string" ? init.body : ""} ${JSON.stringify(init.headers)}`);
        const [status, body] = routes[`${String(init.method)} ${url}`] ?? [404, { error: { code: "not_found", message: "x" } }];
        return Promise.resolve(new Response(JSON.stringify(body), { status }));
    };
}

const principal = { id: 7, kind: "bridge_point", name: "Điểm cầu xã Hoằng Đạo", grants: [], is_admin: false };

describe("REST by command name", () => {
    it("fills the path from the payload and sends the rest as the body", () => {
        expect(restRequest("floor.grant", { meeting_id: 3, subject: "user:5" })).toEqual({
            method: "POST", url: "/api/v1/meetings/3/floor/grant", body: '{"subject":"user:5"}',
        });
        expect(restRequest("media.health", { meeting_id: 2 })).toEqual({
            method: "GET", url: "/api/v1/meetings/2/media-health", body: null,
        });
        expect(restRequest("bridge_point.list", { limit: 100 }).url).toBe("/api/v1/bridge-points?limit=100");
    });
});

describe("Session", () => {
    it("logs a bridge point in with its credential and keeps the token for the next start", async () => {
        const storage = new MemoryStorage();
        const seen: string[] = [];
        const fetcher = fakeFetch({
            "POST /api/v1/auth/device": [200, { token: "tok", expires_at: "2030-01-01T00:00:00Z", principal }],
            "GET /api/v1/auth/me": [200, principal],
        }, seen);
        const s = new Session("bridge", storage, fetcher);
        await s.deviceLogin("secret");
        expect(s.subject).toBe("bridge_point:7");
        expect(seen[0]).toContain('{"credential":"secret"}');

        const again = new Session("bridge", storage, fetcher);
        expect(again.token).toBe("tok");
        expect((await again.resume())?.name).toBe("Điểm cầu xã Hoằng Đạo");
        expect(seen[1]).toContain('"Authorization":"Bearer tok"');
    });

    it("forgets a token the server refuses", async () => {
        const storage = new MemoryStorage();
        storage.setItem("meetingd.token.chair", "old");
        const s = new Session("chair", storage, fakeFetch({
            "GET /api/v1/auth/me": [401, { error: { code: "revoked", message: "revoked" } }],
        }));
        await expect(s.resume()).rejects.toBeInstanceOf(ApiError);
        expect(s.token).toBeNull();
        expect(storage.getItem("meetingd.token.chair")).toBeNull();
    });

    it("reports a wrong password with the server's code", async () => {
        const s = new Session("chair", new MemoryStorage(), fakeFetch({
            "POST /api/v1/auth/login": [401, { error: { code: "unauthenticated", message: "bad" } }],
        }));
        const err = await s.login("chair", "x").catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ApiError);
        expect((err as ApiError).error.code).toBe("unauthenticated");
    });
});
