"""The Alipay gateway wire format: raw request -> checked params, and back (alipay-protocol.md).

Pure functions, no I/O. The gateway route hands in the raw query string and body bytes; this
module decodes them with the request's charset, enforces size limits, checks the common
params, verifies the signature, parses `biz_content`, yuan amounts and timestamps, and builds
signed responses (see `envelope`, re-exported here). Alipay names stay inside this package.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Final

from paybao.adapters.alipay.envelope import (
    build_error_response,
    build_notification,
    build_response,
    encode_form,
    encode_response_object,
    response_key,
    verify_notification,
)
from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.signing import (
    PublicKeyLike,
    SignType,
    parse_sign_type,
    request_sign_content,
    verify_request_params,
)
from paybao.domain.errors import InvalidAmount
from paybao.domain.money import check_amount_fen, format_yuan, parse_yuan

__all__ = [
    "BEIJING_TZ",
    "REQUEST_BODY_SIZE_MAX_BYTES",
    "REQUEST_QUERY_SIZE_MAX_BYTES",
    "TIMESTAMP_WINDOW_S_DEFAULT",
    "CommonParams",
    "GatewayRequest",
    "WireError",
    "build_error_response",
    "build_notification",
    "build_response",
    "check_common_params",
    "check_timestamp_window",
    "encode_form",
    "encode_response_object",
    "format_amount",
    "format_timestamp",
    "merge_params",
    "parse_amount_fen",
    "parse_biz_content",
    "parse_gateway_request",
    "parse_timestamp",
    "response_key",
    "verify_notification",
    "verify_request_signature",
]

REQUEST_BODY_SIZE_MAX_BYTES: Final = 64 * 1024
# python-alipay-sdk sends everything, biz_content included, in the query string (GET).
REQUEST_QUERY_SIZE_MAX_BYTES: Final = 64 * 1024
REQUEST_PARAM_COUNT_MAX: Final = 256
BIZ_CONTENT_KEY_COUNT_MAX: Final = 1024
TIMESTAMP_WINDOW_S_DEFAULT: Final = 15 * 60
CHARSET_DEFAULT: Final = "utf-8"
# China has had no daylight saving since 1991, so a fixed +08:00 is exact for any timestamp
# a client can send, and it spares us a tzdata dependency on slim images.
BEIJING_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
TIMESTAMP_FORMAT: Final = "%Y-%m-%d %H:%M:%S"

# Charsets Alipay accepts, mapped to the Python codec that decodes them.
_CHARSET_CODECS: Final[dict[str, str]] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "gbk": "gbk",
    "gb2312": "gbk",  # GB2312 is a subset of GBK, and GBK decoding is what Alipay does.
}
_FORM_CONTENT_TYPES: Final = frozenset({"application/x-www-form-urlencoded", "text/plain", ""})
_TIMESTAMP_SHAPE: Final = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_METHOD_SHAPE: Final = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+){1,15}$")
_AMOUNT_QUANTUM: Final = Decimal("0.01")
_INVALID_SIGNATURE_SUB_MSG: Final = (
    "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为："
)


@dataclass(frozen=True)
class GatewayRequest:
    """A decoded gateway request. `params` are raw decoded strings, exactly as signed."""

    params: Mapping[str, str]
    # Python codec for the request charset: decode in it, sign in it, answer in it.
    charset_codec: str

    def get(self, key: str) -> str | None:
        return self.params.get(key)


@dataclass(frozen=True)
class CommonParams:
    app_id: str
    method: str
    sign_type: SignType
    sign: str
    timestamp: str
    version: str
    biz_content: str | None
    notify_url: str | None
    return_url: str | None
    app_auth_token: str | None


def parse_gateway_request(
    query: bytes | str,
    body: bytes = b"",
    content_type: str | None = None,
    *,
    body_size_max_bytes: int = REQUEST_BODY_SIZE_MAX_BYTES,
    query_size_max_bytes: int = REQUEST_QUERY_SIZE_MAX_BYTES,
) -> GatewayRequest:
    """Decode query string + form body into one param dict (no signature check yet)."""
    query_bytes = query.encode("latin-1") if isinstance(query, str) else query
    if len(body) > body_size_max_bytes:
        raise WireError("isv.request-too-large", f"body exceeds {body_size_max_bytes} bytes")
    if len(query_bytes) > query_size_max_bytes:
        raise WireError("isv.request-too-large", f"query exceeds {query_size_max_bytes} bytes")
    media_type, content_type_charset = _split_content_type(content_type)
    if body and media_type not in _FORM_CONTENT_TYPES:
        raise WireError("isv.invalid-parameter", f"unsupported Content-Type {media_type[:64]!r}")
    codec = _find_charset_codec(query_bytes, body, content_type_charset)
    params = merge_params(_decode_pairs(query_bytes, codec), _decode_pairs(body, codec))
    return GatewayRequest(params=params, charset_codec=codec)


def merge_params(*sources: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Merge query and body pairs. A key repeated with a different value is refused.

    Taking either value would let the signature check and the business code read different
    values of the same key (parameter pollution); no SDK ever repeats a key.
    """
    merged: dict[str, str] = {}
    for pairs in sources:
        for key, value in pairs:
            previous = merged.setdefault(key, value)
            if previous != value:
                raise WireError("isv.invalid-parameter", f"parameter {key[:64]!r} repeated")
    if len(merged) > REQUEST_PARAM_COUNT_MAX:
        raise WireError("isv.invalid-parameter", "too many parameters")
    return merged


def check_common_params(request: GatewayRequest) -> CommonParams:
    """The params every call needs, missing -> 40001, malformed -> 40002 (Alipay's order)."""
    params = request.params
    method = _require(params, "method", "isv.missing-method")
    if not _METHOD_SHAPE.match(method):
        raise WireError("isv.invalid-method", "不存在的方法名")
    app_id = _require(params, "app_id", "isv.missing-app-id")
    timestamp = _require(params, "timestamp", "isv.missing-timestamp")
    version = _require(params, "version", "isv.missing-version")
    if version != "1.0":
        raise WireError("isv.invalid-parameter", "version must be 1.0")
    format_value = params.get("format")
    if format_value is not None and format_value.lower() != "json":
        raise WireError("isv.invalid-format", "format must be json")
    sign_type = parse_sign_type(_require(params, "sign_type", "isv.missing-signature-type"))
    if sign_type is None:
        raise WireError("isv.invalid-signature-type", "sign_type must be RSA2 or RSA")
    sign = _require(params, "sign", "isv.missing-signature")
    return CommonParams(
        app_id=app_id,
        method=method,
        sign_type=sign_type,
        sign=sign,
        timestamp=timestamp,
        version=version,
        biz_content=params.get("biz_content"),
        notify_url=params.get("notify_url") or None,
        return_url=params.get("return_url") or None,
        app_auth_token=params.get("app_auth_token") or None,
    )


def verify_request_signature(request: GatewayRequest, app_public_key: PublicKeyLike) -> None:
    """Raise isv.invalid-signature (with Alipay's diagnostic sub_msg) unless `sign` verifies."""
    if verify_request_params(request.params, app_public_key, request.charset_codec):
        return
    # Alipay shows the string it verified so developers can diff it against theirs;
    # it holds only what the caller sent, and `&` is written `&amp;` as Alipay does.
    content = request_sign_content(request.params).replace("&", "&amp;")
    raise WireError("isv.invalid-signature", _INVALID_SIGNATURE_SUB_MSG + content)


def parse_biz_content(text: str | None) -> dict[str, object]:
    """biz_content JSON -> dict. Numbers become Decimal (never float); duplicate keys refused."""
    if text is None or text == "":
        return {}
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_json_constant,
            object_pairs_hook=_unique_keys_object,
        )
    except (ValueError, RecursionError) as error:
        raise WireError("isv.illegal-json", f"biz_content is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise WireError("isv.illegal-json", "biz_content must be a JSON object")
    return value


def parse_amount_fen(
    value: object, *, field: str, allow_zero: bool = False, sub_code: str = "ACQ.INVALID_PARAMETER"
) -> int:
    """A yuan amount from biz_content ("88.88", 88.88 or 88) -> int fen; <= 2 decimals."""
    try:
        if isinstance(value, str):
            return parse_yuan(value, allow_zero=allow_zero)
        return check_amount_fen(_number_to_fen(value), allow_zero=allow_zero)
    except InvalidAmount as error:
        raise WireError(sub_code, f"{field}: {error.message}") from None


def format_amount(amount_fen: int) -> str:
    """int fen -> "20.00", the only way amounts leave this adapter."""
    return format_yuan(amount_fen)


def parse_timestamp(text: str, *, sub_code: str = "isv.invalid-timestamp") -> datetime:
    """`yyyy-MM-dd HH:mm:ss` Beijing time -> an aware datetime."""
    if not isinstance(text, str) or not _TIMESTAMP_SHAPE.match(text):
        raise WireError(sub_code, "时间格式应为 yyyy-MM-dd HH:mm:ss")
    try:
        naive = datetime.strptime(text, TIMESTAMP_FORMAT)  # noqa: DTZ007 (zone set next line)
    except ValueError:
        raise WireError(sub_code, f"not a valid date/time: {text}") from None
    return naive.replace(tzinfo=BEIJING_TZ)


def format_timestamp(moment: datetime) -> str:
    """An aware datetime -> `yyyy-MM-dd HH:mm:ss` in Beijing time."""
    assert moment.tzinfo is not None, "naive datetimes are ambiguous"
    return moment.astimezone(BEIJING_TZ).strftime(TIMESTAMP_FORMAT)


def check_timestamp_window(
    timestamp: datetime, now: datetime, *, window_s: int = TIMESTAMP_WINDOW_S_DEFAULT
) -> None:
    """Refuse a request timestamp further than `window_s` from `now` (replay protection)."""
    assert timestamp.tzinfo is not None
    assert now.tzinfo is not None
    assert window_s > 0
    skew_s = abs((now - timestamp).total_seconds())
    if skew_s > window_s:
        raise WireError("isv.invalid-timestamp", f"timestamp is outside ±{window_s} s of now")


def _require(params: Mapping[str, str], key: str, missing_sub_code: str) -> str:
    value = params.get(key)
    if value is None or value == "":
        raise WireError(missing_sub_code, f"缺少必选参数 {key}")
    return value


def _split_content_type(content_type: str | None) -> tuple[str, str | None]:
    if not content_type:
        return "", None
    media_type, _, rest = content_type.partition(";")
    charset = None
    for part in rest.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset":
            charset = value.strip().strip('"')
    return media_type.strip().lower(), charset


def _find_charset_codec(query: bytes, body: bytes, content_type_charset: str | None) -> str:
    """The `charset` param: query first (the official SDK puts it there), then body, header."""
    declared = _raw_param(query, b"charset") or _raw_param(body, b"charset")
    declared = declared or content_type_charset or CHARSET_DEFAULT
    codec = _CHARSET_CODECS.get(declared.strip().lower())
    if codec is None:
        raise WireError("isv.invalid-charset", f"unsupported charset {declared[:32]!r}")
    return codec


def _raw_param(data: bytes, name: bytes) -> str | None:
    prefix = name + b"="
    for part in data.split(b"&"):
        if part.startswith(prefix):
            return urllib.parse.unquote_to_bytes(part[len(prefix) :]).decode("ascii", "replace")
    return None


def _decode_pairs(data: bytes, codec: str) -> list[tuple[str, str]]:
    if not data:
        return []
    try:
        text = data.decode(codec)
        return urllib.parse.parse_qsl(
            text,
            keep_blank_values=True,
            encoding=codec,
            errors="strict",
            max_num_fields=REQUEST_PARAM_COUNT_MAX,
        )
    except UnicodeDecodeError:
        raise WireError("isv.invalid-charset", f"request is not valid {codec}") from None
    except ValueError:
        raise WireError("isv.invalid-parameter", "too many parameters") from None


def _number_to_fen(value: object) -> int:
    # A JSON number arrives as Decimal (parse_biz_content) or int. A float can only come from a
    # caller that parsed JSON itself; its repr is the shortest text that round-trips, i.e. the
    # digits the sender wrote, so we go through that text and never through float arithmetic.
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise InvalidAmount("amount must be a yuan string or number")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite() or number != number.quantize(_AMOUNT_QUANTUM):
            raise InvalidAmount("amount must have at most 2 decimals")
    except InvalidOperation:
        raise InvalidAmount("amount is out of range") from None
    return int(number * 100)


def _refuse_json_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


def _unique_keys_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in JSON object")
    if len(result) > BIZ_CONTENT_KEY_COUNT_MAX:
        raise ValueError("too many keys in JSON object")
    return result
