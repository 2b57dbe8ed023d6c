import { describe, expect, it } from "vitest";
import { deviceProblem, openDevices } from "./media";
import { qrPath } from "../ui/qr";

const fail = (name: string) => Object.assign(new Error(name), { name });

describe("camera and microphone", () => {
    it("joins receive-only when the browser refuses them, and says why", async () => {
        const asked: MediaStreamConstraints[] = [];
        const got = await openDevices((c) => { asked.push(c); return Promise.reject(fail("NotAllowedError")); }, true);
        expect(got).toEqual({ stream: null, issue: { what: "both", problem: "denied" } });
        expect(asked).toHaveLength(1); // a refusal is not asked again piece by piece
    });

    it("keeps the microphone when there is no camera", async () => {
        const stream = {} as MediaStream;
        const got = await openDevices((c) => (c.video ? Promise.reject(fail("NotFoundError")) : Promise.resolve(stream)), true);
        expect(got.stream).toBe(stream);
        expect(got.issue).toEqual({ what: "camera", problem: "missing" });
    });

    it("names each failure", () => {
        expect(deviceProblem(fail("NotReadableError"))).toBe("busy");
        expect(deviceProblem(fail("OverconstrainedError"))).toBe("missing");
        expect(deviceProblem("x")).toBe("other");
    });
});

describe("QR code", () => {
    it("draws each run of dark modules as one rectangle", () => {
        expect(qrPath([[true, true, false, true], [false, false, false, false]])).toBe("M0 0h2v1h-2zM3 0h1v1h-1z");
    });
});
