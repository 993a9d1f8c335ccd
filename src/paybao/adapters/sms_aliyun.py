"""SMS through Alibaba Cloud: Dysmsapi `SendSms`, API 2017-05-25 (PAYBAO_SMS_PROVIDER=aliyun).

RPC style, POSTed as a form: the common parameters (AccessKeyId, Action, Format=JSON,
RegionId, SignatureMethod=HMAC-SHA1, SignatureNonce, SignatureVersion=1.0, Timestamp in UTC,
Version) and SendSms's own (PhoneNumbers, SignName, TemplateCode, TemplateParam, OutId = our
message id). The signature follows Alibaba Cloud's "signature mechanism" for RPC APIs (help
document 28839 and the SMS "HTTP protocol and signature" page, whose worked example our unit
test reproduces):
1. every parameter but Signature, sorted by name (byte order), name and value each
   percent-encoded as below, joined `name=value` with `&`: the canonicalised query;
2. StringToSign = `POST` + `&` + percentEncode("/") + `&` + percentEncode(canonicalised query);
3. Signature = Base64(HMAC-SHA1(key = AccessKeySecret + "&", UTF-8 StringToSign)).
percentEncode is RFC 3986 on UTF-8: A-Z a-z 0-9 `-` `_` `.` `~` stay, everything else becomes
%XY (upper-case hex), a space %20 (not `+`), `*` %2A, `~` stays.

Templates carry variables, not free text: the text's kind picks the template
(`templates[kind]`, else `default_template` for any `code_*` kind), and its variables
(`{"code": ...}`, so the template reads `${code}`) are the TemplateParam JSON. A kind with no
template is refused (`sms_no_template`) without calling Aliyun.

Aliyun answers JSON `{"Code": "OK", "Message", "RequestId", "BizId"}`. `OK` is sent; its
throttling and flow control (`isv.BUSINESS_LIMIT_CONTROL`, `Throttling*`), a system error, an
account out of balance or stopped, a reused nonce, HTTP 5xx and transport errors are tried
again; every other code (`isv.MOBILE_NUMBER_ILLEGAL`, `isv.SMS_TEMPLATE_ILLEGAL`,
`isv.TEMPLATE_MISSING_PARAMETERS`, `SignatureDoesNotMatch`, ...) is a refusal for good. Only the
code is kept, never Aliyun's Message (it may quote the number or the variables).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote, urlsplit

from paybao.adapters.sms_http import Answer, BoundedPoster
from paybao.services.sms_delivery import (
    REFUSED,
    RETRY,
    SENT,
    SmsRequest,
    SmsResult,
    safe_reason,
    url_allowed,
)

API_VERSION: Final = "2017-05-25"
ENDPOINT_DEFAULT: Final = "https://dysmsapi.aliyuncs.com/"
CODE_KIND_PREFIX: Final = "code_"
RETRY_CODES: Final = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",  # flow control per number (1/min, 5/h, 10/day by default)
        "isp.SYSTEM_ERROR",
        "isp.RAM_PERMISSION_DENY",  # an operator grants it; the text can wait
        "isv.OUT_OF_SERVICE",  # the account stopped (arrears): topped up, it sends again
        "isv.AMOUNT_NOT_ENOUGH",
        "SignatureNonceUsed",  # a new try has a new nonce
        "ServiceUnavailable",
        "InternalError",
    }
)


def percent_encode(value: str) -> str:
    return quote(value, safe="-_.~", encoding="utf-8")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(name)}={percent_encode(params[name])}" for name in sorted(params)
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    key = (secret + "&").encode("utf-8")
    digest = hmac.new(key, string_to_sign(method, params).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


class AliyunSmsProvider:
    """Implements SmsProvider (services/sms_delivery.py)."""

    name = "aliyun"

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        default_template: str,
        templates: Mapping[str, str] | None = None,
        region_id: str = "cn-hangzhou",
        endpoint: str = ENDPOINT_DEFAULT,
        timeout_s: float = 5.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        nonce: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        assert url_allowed(endpoint), "the Aliyun endpoint needs https"
        assert access_key_id and access_key_secret and sign_name and default_template
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.default_template = default_template
        self.templates = dict(templates or {})
        self.region_id = region_id
        self.endpoint = endpoint
        # Aliyun checks Timestamp against the real time: the wall clock, never the test clock.
        self._now = now
        self._nonce = nonce
        self.poster = BoundedPoster(timeout_s)

    def __repr__(self) -> str:  # never the secret
        return f"AliyunSmsProvider({self.access_key_id[:4]}..., {urlsplit(self.endpoint).hostname})"

    def template_of(self, kind: str) -> str:
        if kind in self.templates:
            return self.templates[kind]
        # Every code (registration, card binding, password resets, ...) carries `${code}`.
        return self.default_template if kind.startswith(CODE_KIND_PREFIX) else ""

    def params_of(self, request: SmsRequest, template: str) -> dict[str, str]:
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": request.message_id,
            "PhoneNumbers": request.phone,
            "RegionId": self.region_id,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": template,
            "Timestamp": self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        }
        if request.params:
            params["TemplateParam"] = json.dumps(
                dict(request.params), ensure_ascii=False, separators=(",", ":")
            )
        return params

    def send(self, request: SmsRequest) -> SmsResult:
        template = self.template_of(request.kind)
        if not template:
            return SmsResult(REFUSED, "sms_no_template")
        params = self.params_of(request, template)
        params["Signature"] = signature(self._secret, "POST", params)
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        return classify(self.poster.post(self.endpoint, body.encode("ascii"), headers))

    def close(self) -> None:
        self.poster.close()


def classify(answer: Answer) -> SmsResult:
    if answer.status is None:
        return SmsResult(RETRY, answer.error or "transport")
    code = _code(answer.body)
    if answer.status == 200 and code == "OK":
        return SmsResult(SENT)
    reason = code or f"http_{answer.status}"
    if answer.status >= 500 or code in RETRY_CODES or code.startswith("Throttling"):
        return SmsResult(RETRY, reason)
    return SmsResult(REFUSED, reason)


def _code(body: bytes) -> str:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    code = value.get("Code") if isinstance(value, dict) else None
    return safe_reason(code) if isinstance(code, str) else ""
