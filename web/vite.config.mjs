// Vite builds the four views as separate pages (each loads only its own JS) and Vitest runs
// the library's unit tests. Nothing is fetched at run time: every asset comes from dist/.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { resolve } from "node:path";
import { defineConfig } from "vite";

const pages = ["index", "chu-tri", "diem-cau", "dai-bieu", "ky-thuat"];

/** Write a .gz beside each JS, CSS and HTML file, which the server sends to gzip clients. */
function precompress() {
    return {
        name: "meetingd-precompress",
        apply: "build",
        // After Vite's own generateBundle hooks: they still rewrite chunks there (the
        // dynamic-import preload list), and the .gz must hold the final code.
        generateBundle: {
            order: "post",
            handler(_options, bundle) {
                for (const [name, file] of Object.entries(bundle)) {
                    if (!/\.(js|css|html|svg)$/.test(name)) continue;
                    const source = file.type === "chunk" ? file.code : file.source;
                    this.emitFile({ type: "asset", fileName: `${name}.gz`, source: gzipSync(source, { level: 9 }) });
                }
            },
        },
    };
}

/** Copy pdf.js's standard fonts and CMaps from pdfjs-dist into dist/pdfjs/<version>/, where
 * the reader asks for them (src/documents/pdf.ts): a PDF that uses a standard font it does
 * not embed, or a CJK CMap, renders without anything fetched from the internet. */
function pdfjsData() {
    return {
        name: "meetingd-pdfjs-data",
        apply: "build",
        generateBundle() {
            const root = resolve(import.meta.dirname, "node_modules/pdfjs-dist");
            const { version } = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8"));
            for (const dir of ["cmaps", "standard_fonts"]) {
                for (const name of readdirSync(resolve(root, dir))) {
                    this.emitFile({ type: "asset", fileName: `pdfjs/${version}/${dir}/${name}`, source: readFileSync(resolve(root, dir, name)) });
                }
            }
        },
    };
}

export default defineConfig({
    root: import.meta.dirname,
    base: "/",
    esbuild: { jsx: "automatic", jsxImportSource: "preact" },
    build: {
        outDir: "dist",
        emptyOutDir: true,
        target: "es2022",
        assetsDir: "assets",
        rollupOptions: {
            input: Object.fromEntries(pages.map((p) => [p, resolve(import.meta.dirname, `${p}.html`)])),
        },
    },
    plugins: [pdfjsData(), precompress()],
    server: {
        proxy: {
            "/api": "http://127.0.0.1:8080",
            "/socket.io": { target: "ws://127.0.0.1:8080", ws: true },
        },
    },
    test: {
        include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
        environment: "node",
    },
});
