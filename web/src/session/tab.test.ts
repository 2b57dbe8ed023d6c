import { describe, expect, it } from "vitest";
import { kioskUrl, takeCredentialFromUrl } from "./session";
import { TabClaim, type LockManagerLike } from "./tab";

const flush = () => new Promise((r) => setTimeout(r, 0));

/** Web Locks for one name, in memory: the holder, a queue, steal. */
class Locks implements LockManagerLike {
    holder: { reject: (e: Error) => void } | null = null;
    queue: (() => void)[] = [];

    request(
        _name: string,
        options: { steal?: boolean; ifAvailable?: boolean; signal?: AbortSignal },
        callback: (lock: unknown) => Promise<void>,
    ): Promise<void> {
        return new Promise<void>((resolve, reject) => {
            const grant = () => {
                this.holder = { reject };
                callback({}).then(() => { this.release(); resolve(); }, reject);
            };
            if (options.steal) {
                this.holder?.reject(new DOMException("stolen", "AbortError"));
                grant();
            } else if (!this.holder) grant();
            else if (options.ifAvailable) void callback(null).then(resolve);
            else {
                this.queue.push(grant);
                options.signal?.addEventListener("abort", () => {
                    this.queue = this.queue.filter((g) => g !== grant);
                    reject(new DOMException("aborted", "AbortError"));
                });
            }
        });
    }

    /** The holding tab closed. */
    release(): void {
        this.holder = null;
        this.queue.shift()?.();
    }
}

describe("one kiosk per browser", () => {
    it("runs the first tab, keeps the second on standby, hands over on close or on request", async () => {
        const locks = new Locks();
        const log: string[] = [];
        const one = new TabClaim("k", () => log.push("1 active"), () => log.push("1 standby"), locks);
        const two = new TabClaim("k", () => log.push("2 active"), () => log.push("2 standby"), locks);
        one.claim();
        await flush();
        two.claim();
        await flush();
        expect([one.state, two.state]).toEqual(["active", "standby"]);
        two.takeOver();
        await flush();
        expect([one.state, two.state]).toEqual(["standby", "active"]);
        locks.release(); // tab two closes: tab one, waiting, takes over by itself
        await flush();
        expect(one.state).toBe("active");
        expect(log).toEqual(["1 active", "2 standby", "2 active", "1 standby", "1 active"]);
    });

    it("runs every tab where Web Locks are missing", () => {
        const tab = new TabClaim("k", () => undefined, () => undefined, null);
        tab.claim();
        expect(tab.state).toBe("active");
    });
});

describe("credential in the URL fragment", () => {
    it("is read once and taken out of the address bar", () => {
        const url = kioskUrl("http://10.0.0.5:8080", "ab+c/d=");
        expect(url).toBe("http://10.0.0.5:8080/diem-cau#credential=ab%2Bc%2Fd%3D");
        const replaced: string[] = [];
        const got = takeCredentialFromUrl(
            { hash: new URL(url).hash, pathname: "/diem-cau", search: "" },
            { state: null, replaceState: (_s: unknown, _t: string, u?: string | URL | null) => { replaced.push(String(u)); } },
        );
        expect(got.present).toBe(true);
        expect(replaced).toEqual(["/diem-cau"]);
        expect(got.take()).toBe("ab+c/d=");
        expect(got.take()).toBeNull();
        const none = takeCredentialFromUrl({ hash: "", pathname: "/diem-cau", search: "" }, { state: null, replaceState: () => { throw new Error("no"); } });
        expect(none.present).toBe(false);
    });
});
