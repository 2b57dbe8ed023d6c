import { describe, expect, it } from "vitest";
import { CATALOGUES, en, vi } from "./catalog";
import { errorText, fill, formatDateTime, formatDuration, formatNumber, setLang, t } from "./i18n";

describe("catalogues", () => {
    it("have the same keys in Vietnamese and English, none empty", () => {
        const viKeys = Object.keys(vi).sort();
        const enKeys = Object.keys(en).sort();
        expect(enKeys).toEqual(viKeys);
        for (const cat of Object.values(CATALOGUES)) {
            for (const [key, text] of Object.entries(cat)) expect(text.trim(), key).not.toBe("");
        }
    });

    it("use the same placeholders in both languages", () => {
        const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        for (const key of Object.keys(vi) as (keyof typeof vi)[]) {
            expect(names(en[key]), key).toEqual(names(vi[key]));
        }
    });
});

describe("messages and formats", () => {
    it("speaks Vietnamese by default and English when chosen", () => {
        setLang("vi");
        expect(t("conn.reconnecting")).toBe("Đang kết nối lại…");
        setLang("en");
        expect(t("conn.reconnecting")).toBe("Reconnecting…");
        setLang("vi");
    });

    it("fills placeholders with Vietnamese numbers", () => {
        setLang("vi");
        expect(fill("{a} và {b}", { a: 1234567, b: "x" })).toBe("1.234.567 và x");
        expect(formatNumber(1234.5, 1)).toBe("1.234,5");
        expect(t("grid.title", { online: 3, total: 40 })).toBe("Điểm cầu (3/40 trực tuyến)");
    });

    it("formats dates in Vietnam's zone and order", () => {
        setLang("vi");
        const s = formatDateTime("2026-12-01T01:00:00Z");
        expect(s).toContain("08:00");
        expect(s).toContain("1/12/2026");
    });

    it("formats speaking times", () => {
        expect(formatDuration(0)).toBe("0:00");
        expect(formatDuration(65)).toBe("1:05");
        expect(formatDuration(3725)).toBe("1:02:05");
        expect(formatDuration(-3)).toBe("0:00");
    });

    it("shows the server's sentence for an error code", () => {
        setLang("vi");
        expect(errorText({ code: "forbidden" })).toBe("Bạn không có quyền thực hiện thao tác này.");
        expect(errorText({ code: "weird", message: "detail" })).toBe("detail");
    });
});
