"""Checking an uploaded PDF (runs in a worker process, see :mod:`meetingd.documents.pool`).

:func:`inspect` opens the file with pikepdf (qpdf), refuses what cannot be shown safely
(not a PDF, damaged beyond repair, encrypted with a user password, too many pages, pages
outside the sizes the PDF specification allows, streams that decompress past the limit),
reports active content (JavaScript, launch and submit actions, embedded files, open and
additional actions) and writes a sanitised, linearised copy without it. Page 1 is rendered
to a PNG thumbnail with pypdfium2, and digital signatures are validated with pyHanko
against the configured trust roots. Everything crosses the process boundary as plain data.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

#: Smallest and largest page side the PDF specification allows (user units of 1/72 inch).
MIN_SIDE, MAX_SIDE = 3.0, 14_400.0
#: Action types that run code or leave the document.
DANGEROUS_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/GoToE",
        "/Rendition",
        "/Sound",
        "/Movie",
        "/ResetForm",
        "/RichMediaExecute",
    }
)
#: Where a PDF reader may find a file header (it searches the first 1024 bytes).
HEADER_WINDOW = 1024
#: Bytes after the last %%EOF tolerated before the file counts as carrying something else.
TRAILING_SLACK = 64


@dataclass(frozen=True)
class Limits:
    """The checks' limits (from ``documents.*`` in the config)."""

    max_pages: int = 2000
    max_decompressed_bytes: int = 512 * 1024 * 1024
    trust_roots: tuple[str, ...] = ()


class Refused(Exception):
    """The file is refused; ``code`` is an :class:`~meetingd.errors.ErrorCode` value."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Report:
    """What the check found (plain data: it is pickled back from the worker)."""

    ok: bool = True
    code: str = ""
    message: str = ""
    pages: int = 0
    #: (width, height) in points of the first pages (at most 20), for the reader's layout.
    page_sizes: list[tuple[float, float]] = field(default_factory=list)
    #: Active content found (and left out of the sanitised copy), e.g. "javascript".
    findings: list[str] = field(default_factory=list)
    sanitised: bool = False
    thumbnail: bool = False
    encrypted: bool = False
    signatures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def inspect(path: str, out_dir: str, limits: Limits) -> dict[str, Any]:
    """Check ``path``; write ``sanitised.pdf`` and ``thumb-1.png`` into ``out_dir``."""
    try:
        return _inspect(Path(path), Path(out_dir), limits).to_dict()
    except Refused as exc:
        return Report(ok=False, code=exc.code, message=exc.message).to_dict()
    except MemoryError:
        return Report(
            ok=False,
            code="document_too_complex",
            message="checking the file needed more memory than allowed (a decompression bomb?)",
        ).to_dict()
    except RecursionError:
        return Report(
            ok=False, code="document_damaged", message="the file's structure nests without end"
        ).to_dict()


def _inspect(path: Path, out: Path, limits: Limits) -> Report:
    import pikepdf

    _sniff(path)
    report = Report()
    try:
        pdf = pikepdf.open(path, suppress_warnings=True)
    except pikepdf.PasswordError:
        raise Refused(
            "document_encrypted", "the PDF is protected by a password; upload it unprotected"
        ) from None
    except pikepdf.PdfError as exc:
        raise Refused("document_damaged", f"the PDF cannot be read: {_short(exc)}") from None
    with pdf:
        report.encrypted = pdf.is_encrypted
        try:
            pages = _pages(pdf, limits, report)
            _check_streams(pdf, limits)
            _strip_active(pdf, report)
        except pikepdf.PdfError as exc:
            raise Refused("document_damaged", f"the PDF is damaged: {_short(exc)}") from None
        if _trailing_data(path):
            report.findings.append("data_after_end")
        report.pages = pages
        report.signatures = _signatures(path, limits)
        # The served copy: no active content, no trailing payload, no encryption, and
        # linearised so a reader shows page 1 before the rest has arrived.
        pdf.save(out / "sanitised.pdf", linearize=True, fix_metadata_version=False)
        report.sanitised = bool(report.findings) or report.encrypted
    report.thumbnail = _thumbnail(out / "sanitised.pdf", out / "thumb-1.png")
    return report


def _sniff(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise Refused("document_empty", "the file is empty")
    with open(path, "rb") as f:
        head = f.read(HEADER_WINDOW)
    if head.startswith(b"%PDF-"):
        return
    if b"%PDF-" in head:
        raise Refused(
            "not_a_pdf", "the file starts with something else before its PDF header (a polyglot)"
        )
    raise Refused("not_a_pdf", f"the file is not a PDF ({describe(head)})")


def describe(head: bytes) -> str:
    """What the first bytes of a file look like, for a message."""
    low = head[:512].lower().lstrip()
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    if head.startswith(b"\x7fELF"):
        return "a Linux executable"
    if head.startswith(b"MZ"):
        return "a Windows executable"
    if low.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        return "HTML or XML text"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Office document"
    return "unknown content"


def _pages(pdf: Any, limits: Limits, report: Report) -> int:
    import pikepdf

    try:
        count = len(pdf.pages)
    except (pikepdf.PdfError, RuntimeError) as exc:
        raise Refused("document_damaged", f"the page tree is broken: {_short(exc)}") from None
    if count == 0:
        raise Refused("document_damaged", "the PDF has no pages")
    if count > limits.max_pages:
        raise Refused(
            "document_too_many_pages",
            f"the PDF has {count} pages; at most {limits.max_pages} are accepted",
        )
    for i, page in enumerate(pdf.pages):
        try:
            box = [float(v) for v in page.mediabox]
        except (KeyError, ValueError, TypeError, pikepdf.PdfError):
            raise Refused("document_damaged", f"page {i + 1} has no valid size") from None
        w, h = abs(box[2] - box[0]), abs(box[3] - box[1])
        unit = float(page.obj.get("/UserUnit", 1) or 1)
        w, h = w * unit, h * unit
        if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
            raise Refused(
                "document_page_size",
                f"page {i + 1} is {w:.0f}×{h:.0f} points; the PDF specification allows "
                f"{MIN_SIDE:.0f} to {MAX_SIDE:.0f}",
            )
        if i < 20:
            report.page_sizes.append((round(w, 2), round(h, 2)))
    return count


def _check_streams(pdf: Any, limits: Limits) -> None:
    """Decompress every stream once, counting; past the limit the file is refused."""
    import pikepdf

    total = 0
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        try:
            data = obj.read_bytes()
        except pikepdf.PdfError:
            continue  # an undecodable image is shown broken, not a danger
        total += len(data)
        del data
        if total > limits.max_decompressed_bytes:
            raise Refused(
                "document_too_complex",
                f"the PDF's content decompresses to more than {limits.max_decompressed_bytes} "
                "bytes (a decompression bomb?)",
            )


def _strip_active(pdf: Any, report: Report) -> None:
    """Remove active content from ``pdf`` (in memory), naming what was found."""
    import pikepdf

    found: set[str] = set()
    root = pdf.Root
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key, what in (("/JavaScript", "javascript"), ("/EmbeddedFiles", "embedded_files")):
            if key in names:
                found.add(what)
                del names[key]
    if "/OpenAction" in root:
        found.add("open_action")
        del root["/OpenAction"]
    form = root.get("/AcroForm")
    if isinstance(form, pikepdf.Dictionary) and "/XFA" in form:
        found.add("xfa_form")
        del form["/XFA"]
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if not isinstance(annots, pikepdf.Array):
            continue
        keep = pikepdf.Array()
        for annot in annots:
            if isinstance(annot, pikepdf.Dictionary) and annot.get("/Subtype") == "/FileAttachment":
                found.add("embedded_files")
                continue
            keep.append(annot)
        if len(keep) != len(annots):
            page.obj["/Annots"] = keep
    if "/AF" in root:
        found.add("embedded_files")
        del root["/AF"]
    # Actions hide anywhere (outlines, annotations, form fields, pages): visit every object.
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and obj.get("/Type") == "/EmbeddedFile":
            found.add("embedded_files")
            obj.write(b"")  # whatever still refers to it, the file itself is gone
            del obj["/Type"]
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            _clean(obj, found, 0)
    report.findings.extend(sorted(found - set(report.findings)))


def _clean(d: Any, found: set[str], depth: int) -> None:
    import pikepdf

    if depth > 8:
        return
    if "/AA" in d:
        found.add("additional_actions")
        del d["/AA"]
    if "/JS" in d:
        found.add("javascript")
        del d["/JS"]
    action = d.get("/A")
    if isinstance(action, pikepdf.Dictionary) and _dangerous(action, found):
        del d["/A"]
    nxt = d.get("/Next")
    if isinstance(nxt, pikepdf.Dictionary) and _dangerous(nxt, found):
        del d["/Next"]
    if d.get("/S") is not None and _dangerous(d, found):
        for key in list(d.keys()):
            if key not in ("/Type",):
                del d[key]
        d["/S"] = pikepdf.Name("/GoTo")  # a harmless action with nowhere to go
        d["/D"] = pikepdf.Array()
    for key in list(d.keys()):
        value = d.get(key)
        if isinstance(value, pikepdf.Dictionary) and not value.is_indirect:
            _clean(value, found, depth + 1)


def _dangerous(action: Any, found: set[str]) -> bool:
    kind = str(action.get("/S", ""))
    if kind in DANGEROUS_ACTIONS:
        found.add(
            {
                "/JavaScript": "javascript",
                "/Launch": "launch_action",
                "/SubmitForm": "submit_form",
            }.get(kind, "active_action")
        )
        return True
    return False


def _trailing_data(path: Path) -> bool:
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - 1024 * 1024))
        tail = f.read()
    end = tail.rfind(b"%%EOF")
    if end < 0:
        return False
    return len(tail[end + 5 :].strip()) > TRAILING_SLACK


def _thumbnail(pdf_path: Path, out: Path) -> bool:
    import pypdfium2

    try:
        doc = pypdfium2.PdfDocument(str(pdf_path))
        try:
            page = doc[0]
            w = page.get_width() or 1.0
            bitmap = page.render(scale=min(2.0, 240.0 / w))
            bitmap.to_pil().save(out, format="PNG")
        finally:
            doc.close()
        return True
    except Exception:  # a page pdfium cannot draw: the document is still served
        return False


def _signatures(path: Path, limits: Limits) -> list[dict[str, Any]]:
    """Each signature's state: intact (the signed bytes are unchanged), valid (the
    cryptography holds), trusted (its chain reaches a configured root), what the changes
    after signing amount to, the signer and the time it claims."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    out: list[dict[str, Any]] = []
    with open(path, "rb") as f:
        try:
            reader = PdfFileReader(f, strict=False)
            sigs = list(reader.embedded_signatures)
        except Exception as exc:  # pyHanko cannot read what qpdf repaired: say so
            if b"/ByteRange" in path.read_bytes()[: 64 * 1024 * 1024]:
                return [{"field": "", "error": f"signatures could not be read: {_short(exc)}"}]
            return []
        for sig in sigs:
            out.append(_one_signature(sig, limits))
    return out


def _one_signature(sig: Any, limits: Limits) -> dict[str, Any]:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    entry: dict[str, Any] = {"field": str(sig.field_name or "")}
    try:
        roots = [_load_cert(Path(p)) for p in limits.trust_roots]
        ctx = ValidationContext(trust_roots=roots, allow_fetching=False)
        status = validate_pdf_signature(sig, ctx)
    except Exception as exc:
        entry.update(intact=False, valid=False, trusted=False, error=_short(exc))
        return entry
    cert = status.signing_cert
    when = status.signer_reported_dt
    entry.update(
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        coverage=str(getattr(status.coverage, "name", status.coverage)),
        modification=str(getattr(status.modification_level, "name", status.modification_level)),
        signer=cert.subject.human_friendly if cert is not None else "",
        signed_at=when.astimezone(UTC).isoformat() if when is not None else None,
    )
    return entry


def _load_cert(path: Path) -> Any:
    from asn1crypto import pem, x509

    data = path.read_bytes()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return x509.Certificate.load(data)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    # qpdf names the file's temporary path: keep the message about the PDF only.
    if ": " in text and os.sep in text.split(": ", 1)[0]:
        text = text.split(": ", 1)[1]
    return text[:200] or type(exc).__name__
