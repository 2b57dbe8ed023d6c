// The user's language (Vietnamese unless English was chosen), messages and formats.

import { ERROR_MESSAGES, type ErrorCode, type WireError } from "../generated/wire";
import { CATALOGUES, type Lang, type MessageKey } from "./catalog";

export type { Lang, MessageKey };

const STORAGE_KEY = "meetingd.lang";
const LOCALES: Record<Lang, string> = { vi: "vi-VN", en: "en-GB" };
const listeners = new Set<() => void>();

function storedLang(): Lang {
    try {
        const value = typeof localStorage === "undefined" ? null : localStorage.getItem(STORAGE_KEY);
        return value === "en" ? "en" : "vi";
    } catch {
        return "vi";
    }
}

let current: Lang = storedLang();

export function lang(): Lang {
    return current;
}

export function setLang(next: Lang): void {
    current = next;
    try {
        if (typeof localStorage !== "undefined") localStorage.setItem(STORAGE_KEY, next);
    } catch {
        /* private mode: the choice lasts for this page */
    }
    if (typeof document !== "undefined") document.documentElement.lang = next;
    for (const f of listeners) f();
}

export function onLangChange(f: () => void): () => void {
    listeners.add(f);
    return () => listeners.delete(f);
}

/** Fill `{name}` placeholders; an unknown one is left as it is. */
export function fill(template: string, values: Readonly<Record<string, string | number>> = {}): string {
    return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
        const v = values[name];
        return v === undefined ? whole : typeof v === "number" ? formatNumber(v) : v;
    });
}

/** The message `key` in the current language. */
export function t(key: MessageKey, values?: Readonly<Record<string, string | number>>): string {
    return fill(CATALOGUES[current][key], values);
}

function isErrorCode(code: string): code is ErrorCode {
    return Object.hasOwn(ERROR_MESSAGES, code);
}

/** The sentence for a server error code (the server's catalogue), in the current language. */
export function errorText(error: Pick<WireError, "code"> | { code: string; message?: string }): string {
    if (isErrorCode(error.code)) return ERROR_MESSAGES[error.code][current];
    return "message" in error && error.message ? error.message : error.code;
}

export function locale(): string {
    return LOCALES[current];
}

export function formatNumber(n: number, digits = 0): string {
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n);
}

export function formatPercent(fraction: number): string {
    return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(fraction);
}

/** A date and time in the meeting's zone (Vietnam), e.g. "08:00 1/12/2026". */
export function formatDateTime(iso: string | Date): string {
    const d = typeof iso === "string" ? new Date(iso) : iso;
    return new Intl.DateTimeFormat(locale(), {
        day: "numeric",
        month: "numeric",
        year: "numeric",
        hour: "2-digit",
        minute: "2-digit",
        timeZone: "Asia/Ho_Chi_Minh",
    }).format(d);
}

export function formatTime(iso: string | Date): string {
    const d = typeof iso === "string" ? new Date(iso) : iso;
    return new Intl.DateTimeFormat(locale(), {
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        timeZone: "Asia/Ho_Chi_Minh",
    }).format(d);
}

/** A duration as m:ss (or h:mm:ss), for speaking timers. */
export function formatDuration(seconds: number): string {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, "0");
    return h > 0 ? `${String(h)}:${String(m).padStart(2, "0")}:${ss}` : `${String(m)}:${ss}`;
}
