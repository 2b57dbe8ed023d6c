// One running copy of a view per browser: a second tab of the same bridge-point kiosk would
// publish the same camera twice and play the meeting's sound twice in the room. The first tab
// holds a Web Lock named after the view; another tab waits on standby, says so, takes over by
// itself when the first closes, and can take over at once ("Dùng thẻ này": the lock is stolen
// and the first tab steps back to standby, waiting in its turn).
//
// Two devices of one bridge point (two browsers or machines) are a different matter: the
// server allows them (presence counts the point once) and this cannot see them.

export interface LockManagerLike {
    request(
        name: string,
        options: { mode?: "exclusive"; steal?: boolean; ifAvailable?: boolean; signal?: AbortSignal },
        callback: (lock: unknown) => Promise<void>,
    ): Promise<void>;
}

export type TabState = "waiting" | "active" | "standby";

export class TabClaim {
    state: TabState = "waiting";
    readonly #name: string;
    readonly #locks: LockManagerLike | null;
    readonly #onActive: () => void;
    readonly #onStandby: () => void;
    readonly #watchers = new Set<() => void>();
    #pending: AbortController | null = null;

    /** `onActive` runs when this tab holds the view, `onStandby` when another tab does. */
    constructor(name: string, onActive: () => void, onStandby: () => void, locks?: LockManagerLike | null) {
        this.#name = name;
        this.#onActive = onActive;
        this.#onStandby = onStandby;
        this.#locks = locks !== undefined ? locks : ((globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks ?? null);
    }

    subscribe(f: () => void): () => void {
        this.#watchers.add(f);
        return () => this.#watchers.delete(f);
    }

    /** Hold the view if no other tab does, else wait on standby for it. Without Web Locks
     * (a page not served over HTTPS or from loopback) every tab runs. */
    claim(): void {
        if (!this.#locks) {
            this.#activate();
            return;
        }
        // first try without waiting, to know at once whether another tab has it
        void this.#locks.request(this.#name, { mode: "exclusive", ifAvailable: true }, (lock) => {
            if (lock === null) {
                this.#standby();
                this.#queue(false);
                return Promise.resolve();
            }
            return this.#hold();
        }).catch(() => { this.#standby(); this.#queue(false); });
    }

    /** Take the view from the other tab now. */
    takeOver(): void {
        this.#pending?.abort();
        this.#queue(true);
    }

    #queue(steal: boolean): void {
        if (!this.#locks) return;
        const ctl = steal ? null : new AbortController();
        this.#pending = ctl;
        const options = ctl ? { mode: "exclusive" as const, signal: ctl.signal } : { mode: "exclusive" as const, steal: true };
        this.#locks.request(this.#name, options, () => {
            this.#pending = null;
            return this.#hold();
        }).catch(() => {
            // our lock was stolen (another tab took over) or the wait was cancelled
            if (ctl?.signal.aborted) return;
            if (this.state === "active") {
                this.#standby();
                this.#queue(false);
            }
        });
    }

    /** Run while holding the lock; resolves (releasing it) only when the page goes. */
    #hold(): Promise<void> {
        this.#activate();
        return new Promise<void>(() => undefined);
    }

    #activate(): void {
        this.#set("active");
        this.#onActive();
    }

    #standby(): void {
        this.#set("standby");
        this.#onStandby();
    }

    #set(state: TabState): void {
        this.state = state;
        for (const f of this.#watchers) f();
    }
}
