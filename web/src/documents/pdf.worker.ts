// pdf.js's worker as a chunk of our own build (served from /assets, gzipped like the rest):
// it starts listening on the worker's port when loaded.
import "pdfjs-dist/build/pdf.worker.min.mjs";
