"""The minutes ("biên bản"): generated from the record, edited as a draft, signed when final.

The draft is made from what the system recorded: the meeting's time and place, attendance
from the last closed roll call (per bridge point with its count, per delegate), the agenda,
the speakers with their times (the speech log), the documents published, and each vote's
question, rule, counts, result and, for a named vote, who chose what. The secretary edits
it section by section; finalising lays it out as Decree 30/2020/NĐ-CP asks of an
administrative document (issuing body and number top left, the national motto top right,
place and date, the title, the body, the signature block), in Liberation Serif (metric-
compatible with Times New Roman, every Vietnamese glyph), and signs it (PAdES, pyHanko)
with the organisation's key. The PDF is kept with its SHA-256; ``meetingd minutes verify
FILE`` checks a copy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from meetingd.clock import Clock
from meetingd.config import Config, MinutesConfig
from meetingd.domain import (
    Meeting,
    MeetingState,
    Minutes,
    MinutesSection,
    MinutesState,
    Principal,
    Vote,
    VoteKind,
    VoteState,
)
from meetingd.errors import ConflictError, StateError, ValidationError
from meetingd.services import authz
from meetingd.services.authz import Permission
from meetingd.store import Store, UnitOfWork

logger = logging.getLogger(__name__)

#: Vietnam's time (the dates and times printed in the minutes).
VN = dt.timezone(dt.timedelta(hours=7), "ICT")
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
FONT = "LiberationSerif"
FONT_FILES = {"": "Regular", "B": "Bold", "I": "Italic", "BI": "BoldItalic"}
DEMO_P12, DEMO_PASSWORD = "minutes-signing.p12", "minutes-signing.password"
KINDS = {VoteKind.OPEN: "công khai", VoteKind.NAMED: "ghi danh", VoteKind.SECRET: "bỏ phiếu kín"}
RULES = {
    "present": "quá nửa số đại biểu có mặt",
    "members": "quá nửa tổng số thành viên",
    "two_thirds": "ít nhất hai phần ba tổng số thành viên",
}


class SigningUnavailable(StateError):
    """No signing key is configured (or it cannot be read)."""


def _hm(t: dt.datetime) -> str:
    return t.astimezone(VN).strftime("%H:%M")


def _date(t: dt.datetime) -> str:
    v = t.astimezone(VN)
    return f"ngày {v:%d} tháng {v:%m} năm {v:%Y}"


# -- the draft, from the record ---------------------------------------------------------------


async def generate(uow: UnitOfWork, meeting: Meeting) -> tuple[MinutesSection, ...]:
    """The sections of a fresh draft, read from the meeting's record."""
    start = meeting.starts_at.astimezone(VN)
    when = f"Bắt đầu lúc {start:%H} giờ {start:%M}, {_date(meeting.starts_at)}"
    if meeting.ends_at is not None:
        when += f"; kết thúc lúc {_hm(meeting.ends_at).replace(':', ' giờ ')}"
    people = []
    if meeting.chair_id is not None and (u := await uow.users.get(meeting.chair_id)):
        people.append(f"Chủ trì: {u.display_name}")
    if meeting.secretary_id is not None and (u := await uow.users.get(meeting.secretary_id)):
        people.append(f"Thư ký: {u.display_name}")
    rollcall = await uow.rollcalls.latest(meeting.id)
    result = rollcall.result if rollcall is not None else None
    if result is None:
        people.append("Chưa có kết quả điểm danh.")
    else:
        people.append(
            f"Điểm danh lúc {_hm(rollcall.closed_at or rollcall.started_at)}: "  # type: ignore[union-attr]
            f"{result.bridge_points_present}/{result.bridge_points_invited} điểm cầu có mặt "
            f"({result.people_at_bridge_points} người), {result.delegates_present}/"
            f"{result.delegates_invited} đại biểu có mặt; "
            + ("đủ" if result.quorum.reached else "không đủ")
            + f" số lượng theo quy định ({result.quorum.present}/{result.quorum.required})."
        )
        for b in result.bridge_points:
            state = f"có mặt, {b.count} người" if b.present else "vắng mặt"
            people.append(f"- Điểm cầu {b.name} ({b.unit_name}): {state}")
        for d in result.delegates:
            people.append(f"- Đại biểu {d.name}: {'có mặt' if d.present else 'vắng mặt'}")
    agenda = [f"{i}. {item.title}" for i, item in enumerate(meeting.agenda, 1)]
    speeches = [
        f"- {_hm(s.granted_at)}" + (f"–{_hm(s.ended_at)}" if s.ended_at else "") + f": {s.name}"
        for s in await uow.speeches.of_meeting(meeting.id)
    ]
    documents = [
        f"- {d.title} ({d.pages} trang), phát hành lúc {_hm(d.published_at)}"
        for d in await _published_documents(uow, meeting.id)
    ]
    votes = [_vote_text(v) for v in await uow.votes.of_meeting(meeting.id)]
    return (
        MinutesSection("I. Thời gian, địa điểm", when),
        MinutesSection("II. Thành phần tham dự", "\n".join(people)),
        MinutesSection("III. Nội dung", "\n".join(agenda) or "(không có chương trình)"),
        MinutesSection("IV. Ý kiến phát biểu", "\n".join(speeches) or "(không có)"),
        MinutesSection("V. Tài liệu phát hành", "\n".join(documents) or "(không có)"),
        MinutesSection("VI. Kết quả biểu quyết", "\n\n".join(votes) or "(không có)"),
        MinutesSection("VII. Kết luận", ""),
    )


async def _published_documents(uow: UnitOfWork, meeting_id: int) -> list[Any]:
    """Documents distributed in the meeting (the documents issue's table, when present)."""
    repo = getattr(uow, "documents", None)
    if repo is None:
        return []
    docs = await repo.of_meeting(meeting_id)
    return [d for d in docs if getattr(d, "published_at", None) is not None]


def _vote_text(v: Vote) -> str:
    lines = [f"Biểu quyết ({KINDS[v.kind]}): {v.question}"]
    lines.append(f"Nguyên tắc: {RULES[v.rule.value]}; {len(v.electors)} người được biểu quyết.")
    r = v.result
    if v.state is not VoteState.CLOSED or r is None:
        lines.append("Chưa kết thúc.")
        return "\n".join(lines)
    counts = ", ".join(f"{o}: {c}" for o, c in zip(v.options, r.counts, strict=True))
    lines.append(f"Số phiếu: {counts} ({r.ballots}/{r.electors} người đã biểu quyết).")
    lines.append(f"Kết quả: {r.statement}")
    if v.kind is VoteKind.NAMED:
        for n in r.named:
            choice = ", ".join(v.options[i] for i in n.choice) or "không biểu quyết"
            lines.append(f"- {n.name}: {choice}")
    return "\n".join(lines)


# -- the PDF -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heading:
    """What the top of the page says (Decree 30/2020/NĐ-CP, appendix I)."""

    parent_body: str
    issuing_body: str
    number: str
    place: str
    date: dt.datetime
    title: str
    chair: str
    secretary: str


def render_pdf(head: Heading, sections: tuple[MinutesSection, ...], font_dir: str) -> bytes:
    """The minutes as a PDF: A4, margins 20/15/20/30 mm, Liberation Serif 13 pt."""
    from fpdf import FPDF, XPos, YPos

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(left=30, top=20, right=15)
    pdf.set_auto_page_break(True, margin=20)
    for style, name in FONT_FILES.items():
        pdf.add_font(FONT, style, str(Path(font_dir) / f"LiberationSerif-{name}.ttf"))
    pdf.set_title(f"Biên bản: {head.title}")
    pdf.set_creator("meetingd")
    pdf.add_page()
    left, width = 30.0, 165.0
    lw, rw = 70.0, 95.0
    top = pdf.get_y()
    # Top left: the body it belongs to, the issuing body (bold), a short rule, the number.
    pdf.set_xy(left, top)
    if head.parent_body:
        pdf.set_font(FONT, "", 12)
        pdf.multi_cell(
            lw, 5.5, head.parent_body.upper(), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.set_x(left)
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(
        lw, 5.5, head.issuing_body.upper(), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    y = pdf.get_y() + 0.8
    pdf.line(left + lw / 2 - 12, y, left + lw / 2 + 12, y)
    pdf.set_xy(left, y + 2)
    pdf.set_font(FONT, "", 13)
    pdf.multi_cell(lw, 6, f"Số: {head.number}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    bottom_left = pdf.get_y()
    # Top right: the national motto, its rule, then place and date in italics.
    pdf.set_xy(left + lw, top)
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(rw, 5.5, MOTTO[0], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(left + lw)
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(rw, 6, MOTTO[1], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = pdf.get_y() + 0.8
    half = pdf.get_string_width(MOTTO[1]) / 2
    pdf.line(left + lw + rw / 2 - half, y, left + lw + rw / 2 + half, y)
    pdf.set_xy(left + lw, y + 2)
    pdf.set_font(FONT, "I", 13)
    pdf.multi_cell(
        rw, 6, f"{head.place}, {_date(head.date)}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_y(max(bottom_left, pdf.get_y()) + 8)
    # The title and what it is about.
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(width, 7, "BIÊN BẢN", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(width, 6.5, head.title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)
    for section in sections:
        pdf.set_font(FONT, "B", 13)
        pdf.multi_cell(width, 6.5, section.heading, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, "", 13)
        for paragraph in section.text.split("\n"):
            pdf.multi_cell(
                width, 6.5, paragraph or " ", align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
        pdf.ln(2)
    # The signature block: the secretary left, the chair right.
    pdf.ln(8)
    if pdf.get_y() > 297 - 20 - 45:
        pdf.add_page()
    y = pdf.get_y()
    for x, role, name in ((left, "THƯ KÝ", head.secretary), (left + lw, "CHỦ TRÌ", head.chair)):
        w = lw if x == left else rw
        pdf.set_xy(x, y)
        pdf.set_font(FONT, "B", 13)
        pdf.multi_cell(w, 6.5, role, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_x(x)
        pdf.set_font(FONT, "I", 12)
        pdf.multi_cell(w, 6, "(Ký, ghi rõ họ tên)", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_xy(x, y + 32)
        pdf.set_font(FONT, "B", 13)
        pdf.multi_cell(w, 6.5, name or " ", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


# -- signing and verifying -----------------------------------------------------------------


def _signer(config: Config) -> Any:
    from pyhanko.sign import signers

    load_p12: Any = signers.SimpleSigner.load_pkcs12
    load_pem: Any = signers.SimpleSigner.load
    m: MinutesConfig = config.minutes
    data = Path(config.server.data_dir)
    try:
        if m.signing_pkcs12:
            return load_p12(m.signing_pkcs12, passphrase=m.signing_pkcs12_password.encode() or None)
        if m.signing_key and m.signing_cert:
            return load_pem(m.signing_key, m.signing_cert)
        if (data / DEMO_P12).exists():
            password = (data / DEMO_PASSWORD).read_text(encoding="utf-8").strip()
            return load_p12(str(data / DEMO_P12), passphrase=password.encode())
    except (OSError, ValueError) as exc:
        raise SigningUnavailable(f"the minutes signing key cannot be read: {exc}") from None
    return None


def sign_pdf(pdf: bytes, signer: Any, *, reason: str, location: str) -> bytes:
    """Sign ``pdf`` (PAdES baseline B: ETSI.CAdES.detached) with ``signer``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    meta = signers.PdfSignatureMetadata(
        field_name="ChuKySo",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
    return bytes(out.getvalue())


def trust_roots(config: Config) -> list[Any]:
    """The certificates a minutes signature is trusted up to: ``minutes.trust_roots``, the
    configured signing certificate, and the demo's."""
    from pyhanko import keys

    load_cert_from_pemder: Any = keys.load_cert_from_pemder
    roots = [load_cert_from_pemder(p) for p in config.minutes.trust_roots]
    if config.minutes.signing_cert:
        roots.append(load_cert_from_pemder(config.minutes.signing_cert))
    try:
        signer = _signer(config)
    except SigningUnavailable:
        signer = None
    if signer is not None:
        roots.append(signer.signing_cert)
    return roots


@dataclass(frozen=True, slots=True)
class PdfCheck:
    """What ``meetingd minutes verify`` found: ``ok`` when every signature is intact,
    valid, PAdES, covers the whole file and chains to a trusted certificate."""

    ok: bool
    lines: tuple[str, ...]


async def verify_pdf(data: bytes, config: Config) -> PdfCheck:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(data))
        signatures = reader.embedded_signatures
    except Exception as exc:  # a damaged or non-PDF file: say so, do not crash
        return PdfCheck(False, (f"not a readable PDF: {exc}",))
    if not signatures:
        return PdfCheck(False, ("the PDF carries no signature",))
    context = ValidationContext(trust_roots=trust_roots(config), allow_fetching=False)
    lines, ok = [], True
    for sig in signatures:
        status = await async_validate_pdf_signature(sig, context)
        pades = str(sig.sig_object.get("/SubFilter")) == "/ETSI.CAdES.detached"
        whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        good = status.intact and status.valid and status.trusted and pades and whole
        ok = ok and good
        lines += [
            f"signature {sig.field_name}: {'OK' if good else 'NOT OK'}",
            f"  signer: {status.signing_cert.subject.human_friendly}",
            f"  signed at: {status.signer_reported_dt}",
            f"  intact: {status.intact}, valid: {status.valid}, trusted: {status.trusted}",
            f"  PAdES: {pades}, covers the whole file: {whole}",
        ]
    return PdfCheck(ok, tuple(lines))


def make_test_certificate(data_dir: Path, organisation: str) -> Path:
    """A self-signed signing certificate for the demo and tests, as
    ``data_dir/minutes-signing.p12`` with its password beside it; answers the PKCS#12 path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} (chứng thư thử nghiệm)"),
    ])  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    password = secrets.token_urlsafe(18)
    data_dir.mkdir(parents=True, exist_ok=True)
    p12 = data_dir / DEMO_P12
    blob = pkcs12.serialize_key_and_certificates(
        b"minutes", key, cert, None, BestAvailableEncryption(password.encode())
    )
    for path, content in ((p12, blob), (data_dir / DEMO_PASSWORD, password.encode())):
        path.write_bytes(content)
        path.chmod(0o600)
    return p12


# -- the service -------------------------------------------------------------------------------


class MinutesService:
    def __init__(self, store: Store, clock: Clock, config: Config) -> None:
        self._store = store
        self._clock = clock
        self._config = config

    async def _meeting(
        self, uow: UnitOfWork, principal: Principal, meeting_id: int, lock: bool = False
    ) -> Meeting:
        return await authz.meeting_for(
            uow, principal, meeting_id, need=Permission.MANAGE_MEETING, doing="the minutes",
            lock=lock,
        )  # fmt: skip

    async def _draft(self, uow: UnitOfWork, meeting: Meeting) -> Minutes:
        stored = await uow.minutes.get(meeting.id)
        if stored is not None:
            return stored
        unit = await uow.units.get(meeting.unit_id)
        place = self._config.minutes.place or (unit.name if unit else "")
        return Minutes(
            meeting_id=meeting.id, number=f"{meeting.id:02d}/BB", place=place,
            state=MinutesState.DRAFT, sections=await generate(uow, meeting), updated_at=None,
            updated_by=None, finalised_at=None, pdf_sha256=None,
        )  # fmt: skip

    async def get(self, principal: Principal, meeting_id: int) -> Minutes:
        """The stored draft (or final minutes); before any edit, one made from the record."""
        async with self._store.transaction() as uow:
            return await self._draft(uow, await self._meeting(uow, principal, meeting_id))

    async def update(
        self,
        principal: Principal,
        meeting_id: int,
        *,
        number: str | None = None,
        place: str | None = None,
        sections: list[MinutesSection] | None = None,
        regenerate: bool = False,
        if_updated_at: dt.datetime | Literal["unsaved"] | None = None,
    ) -> Minutes:
        """Edit the draft (the secretary or the chair); ``regenerate`` reads the record again.

        ``if_updated_at`` is the ``updated_at`` of the minutes the edit was made on
        (``"unsaved"``: the draft made from the record): if they were saved since, the edit
        is refused (:class:`ConflictError`) rather than written over another editor's work.
        None checks nothing.
        """
        async with self._store.transaction() as uow:
            meeting = await self._meeting(uow, principal, meeting_id, lock=True)
            draft = await self._draft(uow, meeting)
            if draft.state is MinutesState.FINAL:
                raise StateError("the minutes are final: they can no longer be edited")
            base = None if if_updated_at == "unsaved" else if_updated_at
            if if_updated_at is not None and draft.updated_at != base:
                raise ConflictError(
                    f"the minutes were saved by {draft.updated_by} at "
                    f"{draft.updated_at.isoformat() if draft.updated_at else '?'} after this "
                    "edit began: load them again"
                )
            if regenerate:
                draft = replace(draft, sections=await generate(uow, meeting))
            draft = replace(
                draft,
                number=number if number is not None else draft.number,
                place=place if place is not None else draft.place,
                sections=tuple(sections) if sections is not None else draft.sections,
            )
            await uow.minutes.save(draft, self._clock.now(), principal.subject)
            got = await uow.minutes.get(meeting_id)
            assert got is not None
            return got

    async def finalise(self, principal: Principal, meeting_id: int) -> Minutes:
        """Lay the draft out, sign it and keep it; the meeting must have ended."""
        async with self._store.transaction() as uow:
            meeting = await self._meeting(uow, principal, meeting_id, lock=True)
            signer = _signer(self._config)
            if signer is None:
                raise SigningUnavailable(
                    "no signing key is configured (minutes.signing_pkcs12 or minutes.signing_key)"
                )
            if meeting.state is not MeetingState.ENDED:
                raise StateError("the minutes are finalised once the meeting has ended")
            draft = await self._draft(uow, meeting)
            if draft.state is MinutesState.FINAL:
                raise StateError("the minutes are already final")
            if not draft.number.strip() or not draft.place.strip():
                raise ValidationError("the minutes need a number and a place", field="number")
            head = await self._heading(uow, meeting, draft)
            now = self._clock.now()
            pdf = await asyncio.to_thread(self._signed, head, draft.sections, signer, meeting.title)
            sha = hashlib.sha256(pdf).hexdigest()
            await uow.minutes.save(draft, now, principal.subject)
            await uow.minutes.finalise(meeting_id, pdf, sha, now)
            # A decision for the audit log; screens learn it from minutes.get (no stream event).
            await uow.record(
                "minutes.finalised",
                f"meeting:{meeting_id}",
                {"number": draft.number, "sha256": sha},
            )
            got = await uow.minutes.get(meeting_id)
            assert got is not None
            logger.info("meeting %s: minutes %s finalised (%s)", meeting_id, draft.number, sha)
            return got

    def _signed(
        self, head: Heading, sections: tuple[MinutesSection, ...], signer: Any, title: str
    ) -> bytes:
        pdf = render_pdf(head, sections, self._config.minutes.font_dir)
        return sign_pdf(pdf, signer, reason=f"Biên bản: {title}", location=head.place)

    async def _heading(self, uow: UnitOfWork, meeting: Meeting, draft: Minutes) -> Heading:
        unit = await uow.units.get(meeting.unit_id)
        chair = await uow.users.get(meeting.chair_id) if meeting.chair_id else None
        secretary = await uow.users.get(meeting.secretary_id) if meeting.secretary_id else None
        m = self._config.minutes
        return Heading(
            parent_body=m.parent_body,
            issuing_body=m.issuing_body or (unit.name if unit else ""),
            number=draft.number,
            place=draft.place,
            date=meeting.ends_at or self._clock.now(),
            title=meeting.title,
            chair=chair.display_name if chair else "",
            secretary=secretary.display_name if secretary else "",
        )

    async def pdf(self, principal: Principal, meeting_id: int) -> bytes:
        """The signed PDF (anyone who may read the meeting, once final)."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(uow, principal, meeting_id)
            data = await uow.minutes.pdf(meeting_id)
        if data is None:
            raise StateError("the minutes of this meeting are not final yet")
        return data
