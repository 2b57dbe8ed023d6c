import { describe, expect, it } from "vitest";
import type { MinutesOut } from "../generated/wire";
import { ApiError, type Fetch } from "../session/rest";
import { Minutes, draftOf, draftProblem, isDirty, saveFailure } from "./minutes";

const unsaved: MinutesOut = {
    meeting_id: 4, number: "04/BB", place: "Huyện Hoằng Hóa", state: "draft",
    sections: [{ heading: "I. Thời gian, địa điểm", text: "Bắt đầu lúc 08 giờ 00" }, { heading: "VII. Kết luận", text: "" }],
    updated_at: null, updated_by: null, finalised_at: null, pdf_sha256: null,
};

interface Sent { method: string; url: string; body: Record<string, unknown> }

function fakeFetch(answers: [number, unknown][], seen: Sent[]): Fetch {
    return (url, init) => {
        const sent = typeof init.body === "string" ? JSON.parse(init.body) as Record<string, unknown> : {};
        seen.push({ method: String(init.method), url, body: sent });
        const [status, answer] = answers.shift() ?? [500, {}];
        return Promise.resolve(new Response(JSON.stringify(answer), { status }));
    };
}

describe("the minutes draft", () => {
    it("is dirty once a field or a section's text differs from the saved minutes", () => {
        const d = draftOf(unsaved);
        expect(isDirty(unsaved, d)).toBe(false);
        expect(isDirty(unsaved, { ...d, number: " 04/BB " })).toBe(false); // the server trims
        expect(isDirty(unsaved, { ...d, place: "Xã Hoằng Đạo" })).toBe(true);
        const sections = d.sections.map((s, i) => (i === 1 ? { ...s, text: "Hội nghị thống nhất." } : s));
        expect(isDirty(unsaved, { ...d, sections })).toBe(true);
        expect(unsaved.sections[1]?.text).toBe(""); // the editor's copy is its own
    });

    it("needs a number and a place", () => {
        expect(draftProblem(draftOf(unsaved))).toBeNull();
        expect(draftProblem({ ...draftOf(unsaved), number: "  " })).toBe("number");
        expect(draftProblem({ ...draftOf(unsaved), place: "" })).toBe("place");
    });

    it("tells a conflict and final minutes from other failures", () => {
        expect(saveFailure(new ApiError(409, { code: "conflict", message: "saved by user:3" }))).toBe("conflict");
        expect(saveFailure(new ApiError(409, { code: "invalid_state", message: "final" }))).toBe("final");
        expect(saveFailure(new ApiError(400, { code: "invalid_request", message: "x" }))).toBe("error");
        expect(saveFailure(new Error("offline"))).toBe("error");
    });
});

describe("minutes commands", () => {
    it("saves over the version the edit was made on: unsaved first, then the updated_at", async () => {
        const seen: Sent[] = [];
        const saved = { ...unsaved, number: "12/BB", updated_at: "2026-12-01T03:04:05.123456Z", updated_by: "user:3" };
        const api = new Minutes(4, "tok", fakeFetch([[200, saved], [409, { error: { code: "conflict", message: "saved by user:2" } }]], seen));
        const got = await api.save({ ...draftOf(unsaved), number: "12/BB " }, unsaved);
        expect(got.updated_at).toBe(saved.updated_at);
        expect([seen[0]?.method, seen[0]?.url]).toEqual(["PATCH", "/api/v1/meetings/4/minutes"]);
        expect(seen[0]?.body).toMatchObject({ number: "12/BB", place: "Huyện Hoằng Hóa", if_updated_at: "unsaved" });
        expect(seen[0]?.body.sections).toEqual(unsaved.sections);
        const err = await api.save(draftOf(saved), saved).catch((e: unknown) => e);
        expect(saveFailure(err)).toBe("conflict");
        expect(seen[1]?.body.if_updated_at).toBe(saved.updated_at);
    });
});
