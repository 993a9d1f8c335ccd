"""Signed response envelopes and notification forms (alipay-protocol.md §2.1, §3).

The body is `{"<method>_response":{...},"sign":"..."}` with the object first and `sign`
right after, because the official SDK cuts the signed text between the first
`"x_response":{` and the last `},"sign":"`. python-alipay-sdk instead counts braces without
regard to strings, so a `{` or `}` inside any string value would make it cut at the wrong
place: we write those as `\\u007b` / `\\u007d`, which both SDKs decode back to braces.
The signature covers exactly the bytes of the object as they appear in the body.
"""

from __future__ import annotations

import codecs
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Final

from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.signing import (
    SIGN_TYPE_DEFAULT,
    PrivateKeyLike,
    PublicKeyLike,
    SignType,
    sign_content,
    sign_notification_params,
    verify_notification_params,
)

ERROR_RESPONSE_KEY: Final = "error_response"
# Only names like alipay.trade.query become a `<name>_response` key; anything else would let a
# caller inject JSON into the envelope, so it gets the generic `error_response` key instead.
_METHOD_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+){1,15}$")
_JSON_STRING_LITERAL: Final = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACE_ESCAPES: Final = str.maketrans({"{": "\\u007b", "}": "\\u007d"})
# Characters the response charset cannot hold (emoji in GBK, lone surrogates) are written as
# JSON \u escapes (backslash, u, four hex digits); they only ever occur inside string
# literals, where that is valid JSON.
_JSON_ESCAPE_ERRORS: Final = "paybao.json_escape"
RESPONSE_NESTING_DEPTH_MAX: Final = 8


def response_key(method: str) -> str:
    """alipay.trade.query -> alipay_trade_query_response."""
    if not _METHOD_NAME.match(method):
        return ERROR_RESPONSE_KEY
    return method.replace(".", "_") + "_response"


def build_response(
    method: str,
    fields: Mapping[str, object],
    private_key: PrivateKeyLike | None,
    *,
    sign_type: SignType = SIGN_TYPE_DEFAULT,
    charset: str = "utf-8",
) -> bytes:
    """The exact HTTP 200 body. `private_key=None` only for Alipay's unsigned invalid-app-id."""
    object_bytes = encode_response_object(fields, charset)
    key_bytes = json.dumps(response_key(method)).encode("ascii")
    body = b"{" + key_bytes + b":" + object_bytes
    if private_key is not None:
        signature = sign_content(object_bytes, private_key, sign_type)
        body += b',"sign":"' + signature.encode("ascii") + b'"'
    return body + b"}"


def build_error_response(
    method: str,
    error: WireError,
    private_key: PrivateKeyLike | None,
    *,
    sign_type: SignType = SIGN_TYPE_DEFAULT,
    charset: str = "utf-8",
    extra_fields: Mapping[str, object] | None = None,
) -> bytes:
    """A signed `code`/`msg`/`sub_code`/`sub_msg` object under the method's response key."""
    fields: dict[str, object] = dict(error.to_response_fields())
    fields.update(extra_fields or {})
    return build_response(method, fields, private_key, sign_type=sign_type, charset=charset)


def encode_response_object(fields: Mapping[str, object], charset: str = "utf-8") -> bytes:
    """The `{...}` text to embed and sign: compact JSON, braces in strings escaped."""
    _check_json_values(fields)
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = _JSON_STRING_LITERAL.sub(lambda match: match.group(0).translate(_BRACE_ESCAPES), text)
    return text.encode(codecs.lookup(charset).name, errors=_JSON_ESCAPE_ERRORS)


def build_notification(
    fields: Mapping[str, str],
    private_key: PrivateKeyLike,
    *,
    sign_type: SignType = SIGN_TYPE_DEFAULT,
    charset: str = "utf-8",
) -> dict[str, str]:
    """Notification / return_url params with `sign_type` and `sign` added.

    Empty fields are dropped: merchant verifiers sign `k=` for every field they receive, and a
    form encoder or proxy that loses an empty field would break the signature.
    """
    params = {key: value for key, value in fields.items() if value != ""}
    assert all(isinstance(value, str) for value in params.values()), "notify values are strings"
    assert "sign" not in params
    params.pop("sign_type", None)
    signature = sign_notification_params(params, private_key, sign_type, charset)
    return {**params, "sign_type": sign_type, "sign": signature}


def verify_notification(
    params: Mapping[str, str], public_key: PublicKeyLike, *, charset: str = "utf-8"
) -> bool:
    """The merchant's check, for symmetry and tests. Never raises on garbage."""
    return verify_notification_params(params, public_key, charset)


def encode_form(params: Mapping[str, str], charset: str = "utf-8") -> bytes:
    """application/x-www-form-urlencoded body in the order's charset."""
    return urllib.parse.urlencode(params, encoding=codecs.lookup(charset).name).encode("ascii")


def _check_json_values(fields: Mapping[str, object]) -> None:
    """Refuse floats (money is never a float) and unbounded nesting, iteratively."""
    pending: list[tuple[object, int]] = [(fields, 0)]
    while pending:
        value, depth = pending.pop()
        assert depth <= RESPONSE_NESTING_DEPTH_MAX, "response nested too deeply"
        if isinstance(value, float):
            raise TypeError("floats are not allowed in responses; send yuan strings")
        if isinstance(value, Mapping):
            assert all(isinstance(key, str) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list | tuple):
            pending.extend((item, depth + 1) for item in value)


def _json_escape_handler(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeEncodeError)
    escaped = []
    for char in error.object[error.start : error.end]:
        code_point = ord(char)
        if code_point > 0xFFFF:
            code_point -= 0x10000
            escaped.append(f"\\u{0xD800 + (code_point >> 10):04x}")
            escaped.append(f"\\u{0xDC00 + (code_point & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code_point:04x}")
    return "".join(escaped), error.end


codecs.register_error(_JSON_ESCAPE_ERRORS, _json_escape_handler)
