// pdf.js, loaded only when a document is opened (a chunk of its own: the views' first load
// stays small). Its worker is bundled by Vite into /assets, and its standard fonts and CMaps
// are copied from pdfjs-dist at build (vite.config.ts): nothing comes from the internet.
// Range requests with no prefetch: page 1 shows once its bytes arrived, not the whole file.
// They carry the reading grant `document.open` answered, not the token: the server checks
// each without a database query, and the reader asks for a new grant when one runs out or
// is refused (the viewer's right was, or might have been, removed).

import { GlobalWorkerOptions, PDFDataRangeTransport, TextLayer, getDocument, version, type PDFDocumentProxy, type PDFPageProxy, type RenderTask } from "pdfjs-dist";
import type { ReadingOut } from "../generated/wire";
import { GrantedReader, type OpenReading } from "./reading";

// One worker for every document this page opens (a port given to pdf.js is kept alive).
GlobalWorkerOptions.workerPort = new Worker(new URL("./pdf.worker.ts", import.meta.url), { type: "module" });

/** Where the build puts pdf.js's data files (see vite.config.ts), by pdf.js version. */
export const PDFJS_DATA = `/pdfjs/${version}`;

/** pdf.js's range requests: 64 KiB each, its default. */
export const RANGE_CHUNK = 65_536;

/** pdf.js's requests for ranges, answered under reading grants (see reading.ts). */
class GrantedRanges extends PDFDataRangeTransport {
    readonly #reader: GrantedReader;
    /** Told once when a range cannot be had (the right is gone, the file changed). */
    onFailure: ((exc: unknown) => void) | null = null;
    #failed = false;

    constructor(reader: GrantedReader) {
        super(reader.size, null);
        this.#reader = reader;
    }

    override requestDataRange(begin: number, end: number): void {
        this.#reader.range(begin, end).then(
            (chunk) => { this.onDataRange(begin, chunk); },
            (exc: unknown) => {
                if (this.#failed) return;
                this.#failed = true;
                this.onFailure?.(exc);
            },
        );
    }
}

/** Text search hits: the 1-based pages whose text contains the query. */
export interface Hits {
    query: string;
    pages: number[];
}

/** One opened PDF: page count, a page rendered into a canvas and text layer, search. */
export class PdfFile {
    readonly pages: number;
    readonly #doc: PDFDocumentProxy;
    readonly #text = new Map<number, Promise<string>>();
    #task: RenderTask | null = null;
    #textLayer: TextLayer | null = null;

    private constructor(doc: PDFDocumentProxy) {
        this.#doc = doc;
        this.pages = doc.numPages;
    }

    /** Open the document under `reading` (from `document.open`; `open` asks again when the
     * grant runs out): range requests of 64 KiB, nothing fetched ahead. `failed` is told when
     * a later range cannot be had (the right was removed, or the file changed). */
    static async open(reading: ReadingOut, open: OpenReading, failed: (exc: unknown) => void): Promise<PdfFile> {
        const ranges = new GrantedRanges(new GrantedReader(reading, open));
        const task = getDocument({
            range: ranges,
            rangeChunkSize: RANGE_CHUNK,
            disableAutoFetch: true,
            disableStream: true,
            isEvalSupported: false,
            enableXfa: false,
            useWasm: false,
            cMapUrl: `${PDFJS_DATA}/cmaps/`,
            cMapPacked: true,
            standardFontDataUrl: `${PDFJS_DATA}/standard_fonts/`,
        });
        let loading = true;
        const refused = new Promise<never>((_, reject) => {
            ranges.onFailure = (exc) => {
                if (loading) reject(exc instanceof Error ? exc : new Error(String(exc)));
                else failed(exc);
            };
        });
        try {
            return new PdfFile(await Promise.race([task.promise, refused]));
        } catch (exc) {
            void task.destroy();
            throw exc;
        } finally {
            loading = false;
        }
    }

    /** Draw `page` (1-based) to fit `width` CSS pixels into `canvas`, its text layer into
     * `textBox` (selectable, searchable, read by a screen reader). */
    async render(page: number, canvas: HTMLCanvasElement, textBox: HTMLElement, width: number): Promise<void> {
        this.#task?.cancel();
        this.#textLayer?.cancel();
        const p: PDFPageProxy = await this.#doc.getPage(page);
        const base = p.getViewport({ scale: 1 });
        const scale = Math.max(0.1, width / base.width);
        const viewport = p.getViewport({ scale });
        const ratio = window.devicePixelRatio || 1;
        canvas.width = Math.floor(viewport.width * ratio);
        canvas.height = Math.floor(viewport.height * ratio);
        canvas.style.width = `${String(Math.floor(viewport.width))}px`;
        canvas.style.height = `${String(Math.floor(viewport.height))}px`;
        const task = p.render({ canvas, viewport, transform: ratio === 1 ? undefined : [ratio, 0, 0, ratio, 0, 0] });
        this.#task = task;
        await task.promise;
        textBox.replaceChildren();
        textBox.style.setProperty("--total-scale-factor", String(scale));
        const layer = new TextLayer({ textContentSource: p.streamTextContent(), container: textBox, viewport });
        this.#textLayer = layer;
        await layer.render();
    }

    /** The text of `page` (cached: a search asks each page once). */
    text(page: number): Promise<string> {
        let t = this.#text.get(page);
        if (!t) {
            t = this.#doc.getPage(page).then(async (p) => {
                const content = await p.getTextContent();
                return content.items.map((i) => ("str" in i ? i.str : "")).join(" ");
            });
            this.#text.set(page, t);
        }
        return t;
    }

    /** The pages whose text contains `query` (case and diacritics kept as typed, but
     * compared without case). */
    async search(query: string): Promise<Hits> {
        const q = query.trim().toLocaleLowerCase("vi");
        const pages: number[] = [];
        if (!q) return { query, pages };
        for (let n = 1; n <= this.pages; n++) {
            if ((await this.text(n)).toLocaleLowerCase("vi").includes(q)) pages.push(n);
        }
        return { query, pages };
    }

    close(): void {
        this.#task?.cancel();
        this.#textLayer?.cancel();
        void this.#doc.destroy();
    }
}
