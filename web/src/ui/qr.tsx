// A QR code as SVG, drawn here from uqr's module matrix (bundled: nothing from the internet).

import { encode } from "uqr";

/** The SVG path of the dark modules of `matrix` (one unit square each). */
export function qrPath(matrix: readonly (readonly boolean[])[]): string {
    const parts: string[] = [];
    matrix.forEach((row, y) => {
        let x = 0;
        while (x < row.length) {
            if (!row[x]) {
                x += 1;
                continue;
            }
            let run = 1;
            while (row[x + run]) run += 1;
            parts.push(`M${String(x)} ${String(y)}h${String(run)}v1h-${String(run)}z`);
            x += run;
        }
    });
    return parts.join("");
}

/** `text` as a QR code (error correction M, a 4-module quiet zone), `size` px wide. */
export function QrCode(props: { text: string; size: number; label: string }) {
    const qr = encode(props.text, { ecc: "M", border: 4 });
    const n = qr.data.length;
    return (
        <svg
            width={props.size}
            height={props.size}
            viewBox={`0 0 ${String(n)} ${String(n)}`}
            role="img"
            aria-label={props.label}
            data-qr={props.text}
            shape-rendering="crispEdges"
        >
            <rect width={n} height={n} fill="#fff" />
            <path d={qrPath(qr.data)} fill="#000" />
        </svg>
    );
}
