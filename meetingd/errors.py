"""One error hierarchy for the whole control plane.

Services raise these; each transport maps them once: HTTP answers
``{"error": {"code", "message"}}`` with :attr:`MeetingdError.status`, socket.io
answers ``{"ok": false, "error": {"code", "message"}}``. Anything that is not a
:class:`MeetingdError` is a bug: it becomes a 500 with its traceback in the log only.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from pydantic import ValidationError as PydanticValidationError


class ErrorText(NamedTuple):
    status: int
    vi: str
    en: str


class ErrorCode(enum.StrEnum):
    """Every error code a caller can meet, with its HTTP status and what to tell a person.

    ``message`` in an error body is the precise English detail (for logs and developers);
    a screen shows :attr:`vi` (or :attr:`en`) for the code, with the field when one is
    named. The generated TypeScript carries the same table.
    """

    BAD_REQUEST = "bad_request"
    INVALID_REQUEST = "invalid_request"
    UNKNOWN_COMMAND = "unknown_command"
    UNAUTHENTICATED = "unauthenticated"
    TOKEN_EXPIRED = "token_expired"
    REVOKED = "revoked"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    ALREADY_VOTED = "already_voted"
    INVALID_STATE = "invalid_state"
    NOT_JOINED = "not_joined"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    GONE = "gone"
    SLOW_CONSUMER = "slow_consumer"
    NOT_IMPLEMENTED = "not_implemented"
    MEDIA_ERROR = "media_error"
    NO_SESSION = "no_session"
    BAD_SDP = "bad_sdp"
    BAD_CANDIDATE = "bad_candidate"
    UNSUPPORTED_CODECS = "unsupported_codecs"
    GLARE = "glare"
    UNEXPECTED_ANSWER = "unexpected_answer"
    NOT_CHAIR = "not_chair"
    CLOSED = "closed"
    DOCUMENT_TOO_LARGE = "document_too_large"
    DOCUMENT_EMPTY = "document_empty"
    NOT_A_PDF = "not_a_pdf"
    DOCUMENT_DAMAGED = "document_damaged"
    DOCUMENT_ENCRYPTED = "document_encrypted"
    DOCUMENT_TOO_MANY_PAGES = "document_too_many_pages"
    DOCUMENT_PAGE_SIZE = "document_page_size"
    DOCUMENT_TOO_COMPLEX = "document_too_complex"
    CONVERTER_MISSING = "converter_missing"
    CONVERSION_FAILED = "conversion_failed"
    VIEW_ONLY = "view_only"
    GRANT_REFUSED = "grant_refused"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"

    @property
    def text(self) -> ErrorText:
        return ERROR_TEXTS[self]

    @property
    def status(self) -> int:
        return ERROR_TEXTS[self].status


E = ErrorCode
ERROR_TEXTS: dict[ErrorCode, ErrorText] = {
    E.BAD_REQUEST: ErrorText(400, "Yêu cầu không hợp lệ.", "The request is not valid."),
    E.INVALID_REQUEST: ErrorText(
        400,
        "Dữ liệu gửi lên không hợp lệ; xem lại trường được nêu.",
        "The data sent is not valid; check the field named.",
    ),
    E.UNKNOWN_COMMAND: ErrorText(
        400, "Lệnh không tồn tại hoặc không dùng được ở đây.", "No such command here."
    ),
    E.UNAUTHENTICATED: ErrorText(
        401,
        "Chưa đăng nhập hoặc phiên không hợp lệ; hãy đăng nhập lại.",
        "Not logged in, or the session is not valid; log in again.",
    ),
    E.TOKEN_EXPIRED: ErrorText(
        401,
        "Phiên đăng nhập đã hết hạn; hãy đăng nhập lại.",
        "The session has expired; log in again.",
    ),
    E.REVOKED: ErrorText(
        401,
        "Quyền truy cập đã bị thu hồi (đăng xuất, khoá tài khoản hoặc đổi mật khẩu).",
        "Access was revoked (logged out, account disabled or password changed).",
    ),
    E.FORBIDDEN: ErrorText(
        403, "Bạn không có quyền thực hiện thao tác này.", "You may not do this."
    ),
    E.NOT_FOUND: ErrorText(
        404, "Không tìm thấy (hoặc bạn không có quyền xem).", "Not found (or not visible to you)."
    ),
    E.CONFLICT: ErrorText(409, "Trùng với dữ liệu đã có.", "This conflicts with stored data."),
    E.ALREADY_VOTED: ErrorText(
        409,
        "Bạn đã bỏ phiếu trong lần biểu quyết này; phiếu đã ghi không thay đổi.",
        "You have already voted in this vote; the ballot recorded stands.",
    ),
    E.INVALID_STATE: ErrorText(
        409, "Không thực hiện được ở trạng thái hiện tại.", "Not possible in the current state."
    ),
    E.NOT_JOINED: ErrorText(
        409,
        "Chưa tham gia cuộc họp này trên kết nối này.",
        "This connection has not joined the meeting.",
    ),
    E.PAYLOAD_TOO_LARGE: ErrorText(413, "Dữ liệu gửi lên quá lớn.", "The data sent is too large."),
    E.RATE_LIMITED: ErrorText(
        429, "Thao tác quá nhanh; vui lòng chờ rồi thử lại.", "Too many attempts; wait and retry."
    ),
    E.BUSY: ErrorText(
        409,
        "Cuộc họp đang thay đổi liên tục; hãy thử lại.",
        "The meeting changes too fast; retry.",
    ),
    E.GONE: ErrorText(409, "Kết nối đã đóng.", "The connection has closed."),
    E.SLOW_CONSUMER: ErrorText(
        409,
        "Thiết bị không nhận kịp dữ liệu cuộc họp nên kết nối đã bị ngắt; đang kết nối lại.",
        "The device did not keep up with the meeting's data; the connection was dropped.",
    ),
    E.NOT_IMPLEMENTED: ErrorText(
        501, "Máy chủ này chưa hỗ trợ chức năng này.", "This server does not offer this."
    ),
    E.MEDIA_ERROR: ErrorText(
        400, "Lỗi kết nối hình ảnh, âm thanh.", "The media connection failed."
    ),
    E.NO_SESSION: ErrorText(
        409,
        "Chưa có kết nối hình ảnh, âm thanh; hãy kết nối lại.",
        "No media session yet; connect again.",
    ),
    E.BAD_SDP: ErrorText(
        400, "Thông tin kết nối hình ảnh, âm thanh không hợp lệ.", "The SDP is not valid."
    ),
    E.BAD_CANDIDATE: ErrorText(
        400, "Địa chỉ kết nối mạng không hợp lệ.", "The ICE candidate is not valid."
    ),
    E.UNSUPPORTED_CODECS: ErrorText(
        400,
        "Thiết bị không hỗ trợ định dạng hình ảnh, âm thanh cần thiết (Opus, VP8, H.264).",
        "The device offers none of the codecs needed (Opus, VP8, H.264).",
    ),
    E.GLARE: ErrorText(
        409,
        "Hai bên cùng đàm phán lại; hãy trả lời đề nghị của máy chủ trước.",
        "Both sides renegotiated at once; answer the server's offer first.",
    ),
    E.UNEXPECTED_ANSWER: ErrorText(
        409, "Máy chủ không chờ câu trả lời này.", "The server expected no answer."
    ),
    E.NOT_CHAIR: ErrorText(
        403, "Chỉ màn hình chủ trì mới chuyển trang được.", "Only the chair's console pages."
    ),
    E.CLOSED: ErrorText(409, "Phòng họp trực tuyến đã đóng.", "The media room has closed."),
    E.DOCUMENT_TOO_LARGE: ErrorText(
        413,
        "Tệp quá lớn; dung lượng tối đa được nêu trong thông báo.",
        "The file is larger than the limit stated in the message.",
    ),
    E.DOCUMENT_EMPTY: ErrorText(400, "Tệp rỗng (0 byte).", "The file is empty."),
    E.NOT_A_PDF: ErrorText(
        400,
        "Tệp không phải PDF hoặc văn bản Word, Excel, PowerPoint, OpenDocument.",
        "The file is not a PDF or an office document.",
    ),
    E.DOCUMENT_DAMAGED: ErrorText(
        400, "Tệp PDF bị hỏng, không đọc được.", "The PDF is damaged and cannot be read."
    ),
    E.DOCUMENT_ENCRYPTED: ErrorText(
        400,
        "Tệp PDF có mật khẩu; hãy gỡ mật khẩu rồi tải lên lại.",
        "The PDF is password-protected; remove the password and upload it again.",
    ),
    E.DOCUMENT_TOO_MANY_PAGES: ErrorText(
        400, "Tài liệu có quá nhiều trang.", "The document has too many pages."
    ),
    E.DOCUMENT_PAGE_SIZE: ErrorText(
        400,
        "Kích thước trang vượt giới hạn cho phép của định dạng PDF.",
        "A page is larger or smaller than PDF allows.",
    ),
    E.DOCUMENT_TOO_COMPLEX: ErrorText(
        400,
        "Tệp quá phức tạp để kiểm tra an toàn (quá thời gian hoặc bộ nhớ cho phép).",
        "The file is too complex to check safely (time or memory limit).",
    ),
    E.CONVERTER_MISSING: ErrorText(
        501,
        "Máy chủ chưa cài LibreOffice nên không chuyển được văn bản Word, Excel, PowerPoint; "
        "hãy tải lên bản PDF.",
        "LibreOffice is not installed on the server; upload a PDF instead.",
    ),
    E.CONVERSION_FAILED: ErrorText(
        400,
        "Không chuyển được văn bản sang PDF; hãy kiểm tra tệp hoặc tải lên bản PDF.",
        "The document could not be converted to PDF; check it or upload a PDF.",
    ),
    E.VIEW_ONLY: ErrorText(
        403, "Tài liệu này chỉ được xem, không được tải về.", "This document is view-only."
    ),
    E.GRANT_REFUSED: ErrorText(
        403,
        "Quyền đọc tài liệu đã hết hạn hoặc đã bị thu hồi; hãy mở lại tài liệu.",
        "The reading grant has expired or was withdrawn; open the document again.",
    ),
    E.UNAVAILABLE: ErrorText(
        503,
        "Máy chủ tạm thời không kết nối được cơ sở dữ liệu; vui lòng thử lại sau giây lát.",
        "The server cannot reach its database for the moment; try again shortly.",
    ),
    E.INTERNAL: ErrorText(
        500,
        "Lỗi máy chủ; đã được ghi lại để khắc phục.",
        "A server error; it has been logged.",
    ),
}


class MeetingdError(Exception):
    """A failure the caller can understand and act on."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class ValidationError(MeetingdError):
    """The request is malformed: wrong type, unknown or missing field, bad value."""

    status = 400
    code = "invalid_request"


class AuthenticationError(MeetingdError):
    """No credentials, bad credentials, or an expired or revoked token."""

    status = 401
    code = "unauthenticated"


class PermissionDenied(MeetingdError):
    """The caller is known but has no role that allows this."""

    status = 403
    code = "forbidden"


class NotFound(MeetingdError):
    """The thing does not exist, or the caller may not know that it exists."""

    status = 404
    code = "not_found"


class ConflictError(MeetingdError):
    """The change collides with stored data (a duplicate code or login, a second ballot)."""

    status = 409
    code = "conflict"


class AlreadyVoted(ConflictError):
    """A second ballot where the vote does not allow changing one: the first one stands."""

    code = "already_voted"

    def __init__(self, message: str = "you have already voted in this vote") -> None:
        super().__init__(message)


class StateError(MeetingdError):
    """The command is not allowed in the current state (e.g. starting an ended meeting)."""

    status = 409
    code = "invalid_state"


class PayloadTooLarge(MeetingdError):
    """The request body is larger than the configured limit."""

    status = 413
    code = "payload_too_large"


class RateLimited(MeetingdError):
    """Too many attempts; retry after :attr:`retry_after` seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(MeetingdError):
    """A store the server needs (the database) cannot be reached for the moment."""

    status = 503
    code = "unavailable"


def invalid(
    exc: PydanticValidationError, noun: str = "field", whole: str = "body"
) -> ValidationError:
    """The first problem pydantic found, naming the field (``noun`` says what a field is:
    "field", "query parameter"); ``whole`` names the input when no field is at fault."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc = ".".join(str(p) for p in err["loc"]) or whole
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = f"unknown {noun} '{loc}'"
    elif kind == "missing":
        msg = f"missing {noun} '{loc}'"
    else:
        msg = f"{noun} '{loc}': {err['msg']}"
    more = len(errors) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ValidationError(msg, field=loc)
