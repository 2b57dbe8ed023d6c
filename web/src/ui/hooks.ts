// Small Preact hooks the views share: re-render on a language change, on a store change, on a
// clock tick.

import { useEffect, useState } from "preact/hooks";
import { onLangChange } from "../i18n/i18n";
import { serverTime, type ServerClock } from "../meetings/clock";

/** Re-render the component when the language changes. */
export function useLang(): void {
    const [, setN] = useState(0);
    useEffect(() => onLangChange(() => { setN((n) => n + 1); }), []);
}

/** Something a view can watch: it calls back after each change. */
export interface Observable {
    subscribe(f: () => void): () => void;
}

/** Re-render when `source` changes (and once on subscribing: it may have changed before). */
export function useWatch(source: Observable | null): void {
    const [, setN] = useState(0);
    useEffect(() => {
        if (!source) return undefined;
        const off = source.subscribe(() => { setN((n) => n + 1); });
        setN((n) => n + 1);
        return off;
    }, [source]);
}

/** The current time, ticking every `ms` (for speaking timers). */
export function useNow(ms = 500): number {
    const [now, setNow] = useState(Date.now());
    useEffect(() => {
        const id = setInterval(() => { setNow(Date.now()); }, ms);
        return () => { clearInterval(id); };
    }, [ms]);
    return now;
}

/** Now on the server's clock (ms), ticking every `ms` (for countdowns to its deadlines). */
export function useServerNow(clock: ServerClock | null | undefined, ms = 500): number {
    return serverTime(clock, useNow(ms));
}
