// Link health of each media connection: the latest figures and a short history per subject,
// for the operator's sparklines and the chair's link badges.

import type { MediaHealthOut } from "../generated/wire";

export type Quality = "good" | "fair" | "poor" | "unknown";

/** A rough grade of one connection from what the server measured. */
export function quality(h: Pick<MediaHealthOut, "loss_in" | "rtt_ms" | "bitrate_in" | "state"> | undefined): Quality {
    if (!h || h.state !== "connected") return "unknown";
    const loss = h.loss_in;
    const rtt = h.rtt_ms ?? 0;
    if (loss > 0.08 || rtt > 600) return "poor";
    if (loss > 0.02 || rtt > 250) return "fair";
    return "good";
}

export interface Sample {
    at: number;
    bitrate: number;
    loss: number;
    rtt: number | null;
    fps: number;
}

/** The last `keepMs` of samples for each subject. */
export class HealthHistory {
    readonly #keepMs: number;
    readonly latest = new Map<string, MediaHealthOut>();
    readonly samples = new Map<string, Sample[]>();

    constructor(keepMs = 5 * 60_000) {
        this.#keepMs = keepMs;
    }

    add(list: readonly MediaHealthOut[], now = Date.now()): void {
        // a subject with several connections (two devices): keep the one that sends most
        const best = new Map<string, MediaHealthOut>();
        for (const h of list) {
            const prev = best.get(h.subject);
            if (!prev || h.bitrate_in > prev.bitrate_in) best.set(h.subject, h);
        }
        for (const h of best.values()) {
            this.latest.set(h.subject, h);
            const series = this.samples.get(h.subject) ?? [];
            series.push({ at: now, bitrate: h.bitrate_in, loss: h.loss_in, rtt: h.rtt_ms, fps: h.fps_in });
            while (series.length > 0 && (series[0]?.at ?? now) < now - this.#keepMs) series.shift();
            this.samples.set(h.subject, series);
        }
    }
}

/** The points of an SVG polyline for `values`, scaled into a `width` x `height` box. */
export function sparkline(values: readonly number[], width: number, height: number): string {
    if (values.length === 0) return "";
    if (values.length === 1) return sparkline([values[0] ?? 0, values[0] ?? 0], width, height);
    const max = Math.max(...values, 1);
    const step = values.length > 1 ? width / (values.length - 1) : 0;
    return values
        .map((v, i) => `${(i * step).toFixed(1)},${(height - (v / max) * height).toFixed(1)}`)
        .join(" ");
}
