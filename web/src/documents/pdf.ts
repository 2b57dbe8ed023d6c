// pdf.js, loaded only when a document is opened (a chunk of its own: the views' first load
// stays small). Its worker is bundled by Vite into /assets; nothing comes from the internet.
// Range requests with no prefetch: page 1 shows once its bytes arrived, not the whole file.

import { GlobalWorkerOptions, TextLayer, getDocument, type PDFDocumentProxy, type PDFPageProxy, type RenderTask } from "pdfjs-dist";

// One worker for every document this page opens (a port given to pdf.js is kept alive).
GlobalWorkerOptions.workerPort = new Worker(new URL("./pdf.worker.ts", import.meta.url), { type: "module" });

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

    /** Open `url` with the bearer token: range requests of 64 KiB, nothing fetched ahead. */
    static async open(url: string, token: string | null): Promise<PdfFile> {
        const task = getDocument({
            url,
            httpHeaders: token ? { Authorization: `Bearer ${token}` } : {},
            withCredentials: false,
            rangeChunkSize: 65_536,
            disableAutoFetch: true,
            disableStream: true,
            isEvalSupported: false,
            enableXfa: false,
            useWasm: false,
        });
        return new PdfFile(await task.promise);
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
