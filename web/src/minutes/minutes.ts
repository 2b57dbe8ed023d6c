// The minutes (biên bản): the draft the secretary edits (number, place, each section's text),
// saved only over the version it was made on, then finalised (signed PDF) and downloaded.

import type { paths } from "../generated/api";
import type { MinutesOut } from "../generated/wire";
import { ApiError, rest, type Fetch } from "../session/rest";

/** What the editor holds: the fields `minutes.update` takes. */
export interface MinutesDraft {
    number: string;
    place: string;
    sections: { heading: string; text: string }[];
}

export function draftOf(m: MinutesOut): MinutesDraft {
    return { number: m.number, place: m.place, sections: m.sections.map((s) => ({ heading: s.heading, text: s.text })) };
}

/** Does `draft` differ from the saved `m`? */
export function isDirty(m: MinutesOut, draft: MinutesDraft): boolean {
    const saved = draftOf(m);
    const changed = (d: MinutesDraft["sections"][number], i: number) => {
        const s = saved.sections[i];
        return !s || s.heading !== d.heading || s.text !== d.text;
    };
    return saved.number !== draft.number.trim() || saved.place !== draft.place.trim()
        || saved.sections.length !== draft.sections.length || draft.sections.some(changed);
}

/** Why the draft cannot be saved as it is, or null (the server's limits: a number and a
 * place are needed to sign). */
export function draftProblem(draft: MinutesDraft): "number" | "place" | null {
    if (!draft.number.trim()) return "number";
    if (!draft.place.trim()) return "place";
    return null;
}

/** How a save ended: `conflict`, someone saved the minutes after this editor loaded them;
 * `final`, they were finalised meanwhile; `error`, anything else (the reason is shown). */
export type SaveFailure = "conflict" | "final" | "error";

export function saveFailure(exc: unknown): SaveFailure {
    if (!(exc instanceof ApiError)) return "error";
    if (exc.error.code === "conflict") return "conflict";
    if (exc.error.code === "invalid_state") return "final";
    return "error";
}

/** The signed minutes PDF's route (a plain route, not a command: bytes, not JSON). */
const MINUTES_PDF = "/api/v1/meetings/{meeting_id}/minutes.pdf" satisfies keyof paths;

/** The minutes commands of one meeting, over REST with the screen's token. */
export class Minutes {
    readonly #meetingId: number;
    readonly #token: string;
    readonly #fetch: Fetch;

    constructor(meetingId: number, token: string, fetcher: Fetch = (input, init) => fetch(input, init)) {
        this.#meetingId = meetingId;
        this.#token = token;
        this.#fetch = fetcher;
    }

    /** The stored draft (or, before any save, one made from the record), or the final one;
     * `forbidden` for a caller who may not write the minutes. */
    get(): Promise<MinutesOut> {
        return rest("minutes.get", { meeting_id: this.#meetingId }, this.#token, this.#fetch);
    }

    /** Save `draft` over `base`, the version it was made on: refused (`conflict`) when the
     * minutes were saved since. */
    save(draft: MinutesDraft, base: MinutesOut): Promise<MinutesOut> {
        return rest("minutes.update", {
            meeting_id: this.#meetingId,
            number: draft.number.trim(),
            place: draft.place.trim(),
            sections: draft.sections,
            if_updated_at: base.updated_at ?? "unsaved",
        }, this.#token, this.#fetch);
    }

    /** Lay out and sign the saved draft (the meeting has ended). */
    finalise(): Promise<MinutesOut> {
        return rest("minutes.finalise", { meeting_id: this.#meetingId }, this.#token, this.#fetch);
    }

    /** The signed PDF, once final. */
    async pdf(): Promise<Blob> {
        const url = MINUTES_PDF.replace("{meeting_id}", String(this.#meetingId));
        const response = await this.#fetch(url, { method: "GET", headers: { Authorization: `Bearer ${this.#token}` } });
        if (!response.ok) throw new ApiError(response.status, { code: "internal", message: `HTTP ${String(response.status)}` });
        return response.blob();
    }
}
