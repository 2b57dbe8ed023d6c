"""A viewer's copy of a confidential document: their name, unit and the time on every page.

The mark is drawn by fpdf2 with DejaVu Sans (Vietnamese diacritics need a real Unicode
font; Debian's fonts-dejavu-core ships it), one overlay per page size, laid over each page
with pikepdf. It runs in the worker pool like the checks.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

#: Debian's DejaVu Sans (fonts-dejavu-core).
DEFAULT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _overlay(width: float, height: float, lines: list[str], font: str) -> bytes:
    from fpdf import FPDF

    doc = FPDF(unit="pt", format=(width, height))
    doc.set_auto_page_break(False)
    doc.set_margin(0)
    doc.add_page()
    doc.add_font("mark", fname=font)
    big = max(10.0, min(width, height) / 18)
    doc.set_font("mark", size=big)
    cx, cy = width / 2, height / 2
    with doc.local_context(fill_opacity=0.22, text_color=(180, 0, 0)):
        with doc.rotation(35, cx, cy):
            for i, line in enumerate(lines):
                text_w = doc.get_string_width(line)
                doc.text(cx - text_w / 2, cy + (i - (len(lines) - 1) / 2) * big * 1.3, line)
    small = max(6.0, min(width, height) / 70)
    doc.set_font("mark", size=small)
    with doc.local_context(fill_opacity=0.7, text_color=(120, 0, 0)):
        doc.text(small, height - small, " · ".join(lines))
    return bytes(doc.output())


def watermark(src: str, dst: str, lines: list[str], font: str = DEFAULT_FONT) -> dict[str, Any]:
    """Write ``src`` with ``lines`` drawn over every page to ``dst``."""
    import pikepdf

    overlays: dict[tuple[float, float], Any] = {}
    keep: list[Any] = []
    with pikepdf.open(src) as pdf:
        for page in pdf.pages:
            box = [float(v) for v in page.mediabox]
            size = (round(abs(box[2] - box[0]), 1), round(abs(box[3] - box[1]), 1))
            if size not in overlays:
                mark = pikepdf.open(io.BytesIO(_overlay(size[0], size[1], lines, font)))
                keep.append(mark)
                overlays[size] = mark.pages[0]
            page.add_overlay(overlays[size], pikepdf.Rectangle(*box))
        pdf.save(Path(dst), linearize=True)
    for mark in keep:
        mark.close()
    return {"ok": True}
