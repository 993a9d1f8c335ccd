"""Alipay's v3 protocol (OpenAPI v3, REST) in front of the gateway's own method handlers.

A v3 call is `POST /v3/alipay/trade/query` with the business JSON as the body and
`Authorization: ALIPAY-SHA256withRSA app_id=…,nonce=…,timestamp=<ms>[,expired_seconds=…],sign=…`
(alipay-protocol.md §6). The app signs, with SHA256withRSA,
`authString\\nMETHOD\\n/path?query\\nbody\\n` (+ `app_auth_token\\n` when the
`alipay-app-auth-token` header is sent), authString being the header text between the scheme and
`,sign=` verbatim. Each path maps to one gateway method name (`V3_ROUTES`), and the call runs
through the same `Methods.table` handler as /gateway.do (one business path), as the same `Call`.
Some paths are GET (the queries Alipay's v3 API list makes GET: bill download URL, transfer
query, agreement query, ...) or DELETE (card delete): their fields come in the query string,
form-encoded, no body, and the app signs `authString\\nGET\\n/path?query\\n\\n`. Another verb on
a known path is 405 `invalid-method`, before the app is read.

Answers: success is HTTP 200 with the bare business JSON (no code/msg); a refusal is HTTP 4xx/5xx
`{"code": …, "message": …}` with the gateway's sub_code minus its `isv.`/`aop.`/`isp.` prefix
(`invalid-signature`, `invalid-app-id`) and business codes as they are (`ACQ.TRADE_NOT_EXIST`).
Both are signed with the app's platform key generation in the headers `alipay-timestamp`,
`alipay-nonce`, `alipay-signature` over `timestamp\\nnonce\\nbody\\n` (+ `alipay-sn`, the
platform certificate's SN, in certificate mode); as on the gateway, only an answer for an
unknown app (or one whose app we never learnt) goes unsigned.

Checks, in Alipay's order (its gateway reads the app before the signature): header shape ->
app -> certificate SNs -> signature -> timestamp window (and `expired_seconds`) -> call limits ->
content type -> JSON body -> app_auth_token (the ISV hook) -> nonce not seen before (per app,
in the database, so every server process shares it) -> the handler. A refusal before the
handler writes nothing; the nonce is recorded only for a request that is signed, fresh and
readable, so a rejected forgery cannot burn a merchant's nonce. `notify_url` comes in the body
(Alipay's v3 request models carry it there) and is taken out before the handler sees it.

Content encryption (接口内容加密, as alipay-sdk 4.x's `curl(..., {needEncrypt: true})` does it):
the request names the cipher in `alipay-encrypt-type` (the Node SDK also sends
`alipay-encryption-algm`), says `Content-Type: text/plain`, and its body is the base64 AES
ciphertext of the JSON (content_crypto's cipher: the app's key, zero IV, PKCS#7). The SDK
encrypts first and signs after, so the signature covers the ciphertext as sent: it is checked
first, and the body is opened in place of the JSON-body step, refused as on /gateway.do
(`decryption-error-not-valid-encrypt-type`, `decryption-error-not-valid-encrypt-key` for an
app without a key, `decryption-error-unknown` for a text that does not open), all before the
nonce is spent. A success to an encrypted request is the base64 ciphertext of the business
JSON as the whole body, and `alipay-signature` covers that ciphertext: the SDK verifies the
body as received, then decrypts it. A refusal (4xx/5xx) stays plain JSON, even once the body
is open: the SDK reads an error body as JSON without decrypting it. An app with a key may still
call in plain (as on the gateway): the answer follows the request.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paybao.adapters.alipay import content_crypto, wire
from paybao.adapters.alipay.cert_mode import APP_CERT_SN, ROOT_CERT_SN
from paybao.adapters.alipay.envelope import encode_response_object
from paybao.adapters.alipay.errors import WireError, wire_error_for
from paybao.adapters.alipay.gateway import AlipayGateway
from paybao.adapters.alipay.keys import load_public_key
from paybao.adapters.alipay.methods import Call
from paybao.adapters.alipay.signing import decode_signature
from paybao.domain.errors import DomainError
from paybao.services.merchants import App

log = logging.getLogger(__name__)

AUTH_SCHEME: Final = "ALIPAY-SHA256withRSA"


@dataclass(frozen=True)
class V3Route:
    """One v3 path: the gateway method it runs and the HTTP verb Alipay documents for it. A GET
    or DELETE call carries its business fields in the query string (Alipay's v3 OAS: every such
    parameter is a flat string, named as the classic biz_content field) and no body.
    `top_level`: the fields the classic method takes beside app_id rather than in biz_content
    (its handler reads them from `Call.params`): in v3 they come in the query string of a POST
    (auth_token) or in its body (oauth.token's grant_type, code, refresh_token)."""

    method: str
    verb: str = "POST"
    top_level: frozenset[str] = frozenset()


_AUTH_TOKEN: Final = frozenset({"auth_token"})
_OAUTH_GRANT: Final = frozenset({"grant_type", "code", "refresh_token"})
# Each v3 path, as Alipay's v3 API list names it (the OAS behind its v3 SDKs: alipay-sdk-java-all
# and alipay-sdk-net-all v3/, API version 2026-09/10), for the gateway methods paybao serves.
# Alipay lists no v3 path for alipay.trade.order.onsettle.query,
# alipay.eco.mycar.parking.agreement.query and .order.pay, alipay.commerce.transport.offlinepay.*,
# alipay.open.app.alipaycert.download and zhima.credit.score.brief.get: those stay gateway-only,
# as do the paybao.* methods.
V3_ROUTES: Final[Mapping[str, V3Route]] = {
    "/v3/alipay/trade/precreate": V3Route("alipay.trade.precreate"),
    "/v3/alipay/trade/pay": V3Route("alipay.trade.pay"),
    "/v3/alipay/trade/create": V3Route("alipay.trade.create"),
    "/v3/alipay/trade/query": V3Route("alipay.trade.query"),
    "/v3/alipay/trade/refund": V3Route("alipay.trade.refund"),
    "/v3/alipay/trade/close": V3Route("alipay.trade.close"),
    "/v3/alipay/trade/cancel": V3Route("alipay.trade.cancel"),
    "/v3/alipay/trade/fastpay/refund/query": V3Route("alipay.trade.fastpay.refund.query"),
    "/v3/alipay/fund/trans/uni/transfer": V3Route("alipay.fund.trans.uni.transfer"),
    # Royalty (分账).
    "/v3/alipay/trade/order/settle": V3Route("alipay.trade.order.settle"),
    "/v3/alipay/trade/order/settle/query": V3Route("alipay.trade.order.settle.query", "GET"),
    "/v3/alipay/trade/royalty/relation/bind": V3Route("alipay.trade.royalty.relation.bind"),
    "/v3/alipay/trade/royalty/relation/unbind": V3Route("alipay.trade.royalty.relation.unbind"),
    "/v3/alipay/trade/royalty/relation/batchquery": V3Route(
        "alipay.trade.royalty.relation.batchquery"
    ),
    "/v3/alipay/trade/royalty/rate/query": V3Route("alipay.trade.royalty.rate.query", "GET"),
    # Fund authorisation (预授权).
    "/v3/alipay/fund/auth/order/freeze": V3Route("alipay.fund.auth.order.freeze"),
    "/v3/alipay/fund/auth/order/unfreeze": V3Route("alipay.fund.auth.order.unfreeze"),
    "/v3/alipay/fund/auth/operation/cancel": V3Route("alipay.fund.auth.operation.cancel"),
    "/v3/alipay/fund/auth/operation/detail/query": V3Route(
        "alipay.fund.auth.operation.detail.query"
    ),
    # Funds, bills.
    "/v3/alipay/fund/trans/common/query": V3Route("alipay.fund.trans.common.query", "GET"),
    "/v3/alipay/fund/account/query": V3Route("alipay.fund.account.query", "GET"),
    "/v3/alipay/data/dataservice/bill/downloadurl/query": V3Route(
        "alipay.data.dataservice.bill.downloadurl.query", "GET"
    ),
    # Withholding agreements (代扣).
    "/v3/alipay/user/agreement/query": V3Route("alipay.user.agreement.query", "GET"),
    "/v3/alipay/user/agreement/unsign": V3Route("alipay.user.agreement.unsign"),
    # Member cards.
    "/v3/alipay/marketing/card/template/create": V3Route("alipay.marketing.card.template.create"),
    "/v3/alipay/marketing/card/template/modify": V3Route("alipay.marketing.card.template.modify"),
    "/v3/alipay/marketing/card/template/query": V3Route(
        "alipay.marketing.card.template.query", "GET"
    ),
    "/v3/alipay/marketing/card/open": V3Route("alipay.marketing.card.open", top_level=_AUTH_TOKEN),
    "/v3/alipay/marketing/card/query": V3Route("alipay.marketing.card.query"),
    "/v3/alipay/marketing/card/update": V3Route("alipay.marketing.card.update"),
    "/v3/alipay/marketing/card/delete": V3Route("alipay.marketing.card.delete", "DELETE"),
    # Parking.
    "/v3/alipay/eco/mycar/parking/parkinglotinfo/create": V3Route(
        "alipay.eco.mycar.parking.parkinglotinfo.create"
    ),
    "/v3/alipay/eco/mycar/parking/enterinfo/sync": V3Route(
        "alipay.eco.mycar.parking.enterinfo.sync"
    ),
    "/v3/alipay/eco/mycar/parking/exitinfo/sync": V3Route("alipay.eco.mycar.parking.exitinfo.sync"),
    "/v3/alipay/eco/mycar/parking/order/sync": V3Route("alipay.eco.mycar.parking.order.sync"),
    "/v3/alipay/eco/mycar/parking/config/set": V3Route("alipay.eco.mycar.parking.config.set"),
    "/v3/alipay/eco/mycar/parking/config/query": V3Route(
        "alipay.eco.mycar.parking.config.query", "GET"
    ),
    "/v3/alipay/eco/mycar/parking/vehicle/query": V3Route(
        "alipay.eco.mycar.parking.vehicle.query", "GET"
    ),
    # User OAuth, ISV authorisation.
    "/v3/alipay/system/oauth/token": V3Route("alipay.system.oauth.token", top_level=_OAUTH_GRANT),
    "/v3/alipay/user/info/share": V3Route("alipay.user.info.share", top_level=_AUTH_TOKEN),
    "/v3/alipay/open/auth/token/app": V3Route("alipay.open.auth.token.app"),
    "/v3/alipay/open/auth/token/app/query": V3Route("alipay.open.auth.token.app.query", "GET"),
}
# The verbs whose fields come in the query string, with no body.
QUERY_VERBS: Final = frozenset({"GET", "DELETE"})
# Each POST path and the gateway method it runs.
V3_METHODS: Final[Mapping[str, str]] = {
    path: route.method for path, route in V3_ROUTES.items() if route.verb == "POST"
}
QUERY_FIELD_COUNT_MAX: Final = 32
BODY_SIZE_MAX_BYTES: Final = wire.REQUEST_BODY_SIZE_MAX_BYTES
AUTHORIZATION_LENGTH_MAX: Final = 4096
AUTH_FIELD_COUNT_MAX: Final = 16
APP_AUTH_TOKEN_LENGTH_MAX: Final = 128
PATH_AND_QUERY_LENGTH_MAX: Final = 2048
NOTIFY_URL_LENGTH_MAX: Final = 256
# The SDKs send a UUID (36 characters); Alipay only says "a random string".
NONCE_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Unix milliseconds: 13 digits until the year 2286.
TIMESTAMP_PATTERN: Final = re.compile(r"[0-9]{1,13}")
EXPIRED_SECONDS_MAX: Final = 86_400
REQUEST_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The headers that name a request's cipher: the Node SDK sends both, other clients the first.
ENCRYPT_TYPE_HEADERS: Final = ("alipay-encrypt-type", "alipay-encryption-algm")
# An encrypted body is base64 text: the SDKs call it text/plain; some clients keep JSON's type.
ENCRYPTED_MEDIA_TYPES: Final = frozenset({"text/plain", "application/json"})
_PREFIXES: Final = ("isv.", "aop.", "isp.")
# Gateway codes -> HTTP status (Alipay's v3 error table, open-v3/054fcv): parameter, protocol
# and business failures 400, authorisation (20001) 401, permission (40006) 403, call limits
# 429, system errors 500. ACQ.SYSTEM_ERROR is a business code there (40004), so 400.
_STATUS_BY_GATEWAY_CODE: Final[Mapping[str, int]] = {
    "20000": 500,
    "20001": 401,
    "40001": 400,
    "40002": 400,
    "40003": 400,
    "40004": 400,
    "40005": 429,
    "40006": 403,
}
_STATUS_BY_CODE: Final[Mapping[str, int]] = {"request-too-large": 413, "invalid-method": 404}
_INVALID_SIGNATURE_MESSAGE: Final = (
    "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为："
)


class Nonces(Protocol):
    def first_use(self, app_id: str, nonce: str, now_us: int) -> bool:
        """Record the app's nonce; False if it was recorded before (a replay)."""
        ...


@dataclass(frozen=True)
class Authorization:
    """The parsed `Authorization` header. `auth_string` is what was signed, verbatim."""

    auth_string: str
    app_id: str
    timestamp_ms: int
    nonce: str
    expired_seconds: int | None
    app_cert_sn: str | None
    sign: str


@dataclass(frozen=True)
class V3Request:
    http_method: str
    # The request target as sent (path and query, no host): it is signed as is.
    path_and_query: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class V3Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]


def parse_authorization(header: str | None) -> Authorization:
    """The header's fields; WireError with Alipay's sub_code for anything malformed. No
    header at all is 40001 missing-timestamp, as Alipay answers it."""
    if not header:
        raise WireError("isv.missing-timestamp", "缺少时间戳参数")
    if len(header) > AUTHORIZATION_LENGTH_MAX:
        raise WireError("isv.invalid-parameter", "Authorization 过长")
    scheme, _, rest = header.partition(" ")
    if scheme != AUTH_SCHEME:
        raise WireError("isv.invalid-signature-type", f"签名算法应为 {AUTH_SCHEME}")
    auth_string, found, sign = rest.rpartition(",sign=")
    if not found or not sign:
        raise WireError("isv.missing-signature", "缺少签名参数")
    fields: dict[str, str] = {}
    parts = auth_string.split(",")
    if len(parts) > AUTH_FIELD_COUNT_MAX:
        raise WireError("isv.invalid-parameter", "Authorization 字段过多")
    for part in parts:
        key, equals, field_value = part.partition("=")
        if not equals or not key or key in fields:
            raise WireError("isv.invalid-parameter", f"Authorization 字段无效：{part[:64]}")
        fields[key] = field_value
    app_id = fields.get("app_id")
    if not app_id:
        raise WireError("isv.missing-app-id", "缺少AppID参数")
    timestamp = fields.get("timestamp")
    if not timestamp:
        raise WireError("isv.missing-timestamp", "缺少时间戳参数")
    if not TIMESTAMP_PATTERN.fullmatch(timestamp):
        raise WireError("isv.invalid-timestamp", "timestamp 应为 Unix 毫秒数")
    nonce = fields.get("nonce")
    if not nonce or not NONCE_PATTERN.fullmatch(nonce):
        raise WireError("isv.invalid-parameter", "nonce 应为 8-64 位字母、数字或 ._-")
    return Authorization(
        auth_string=auth_string,
        app_id=app_id,
        timestamp_ms=int(timestamp),
        nonce=nonce,
        expired_seconds=_expired_seconds(fields.get("expired_seconds")),
        app_cert_sn=fields.get("app_cert_sn") or None,
        sign=sign,
    )


def _expired_seconds(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= EXPIRED_SECONDS_MAX:
        raise WireError("isv.invalid-parameter", "expired_seconds 应为 1-86400 的整数")
    return int(text)


def request_sign_content(
    auth_string: str,
    http_method: str,
    path_and_query: str,
    body: bytes,
    app_auth_token: str | None = None,
) -> bytes:
    """What the app signs: `authString\\nMETHOD\\n/path?query\\nbody\\n[token\\n]`, UTF-8."""
    head = f"{auth_string}\n{http_method}\n{path_and_query}\n".encode()
    tail = f"{app_auth_token}\n".encode() if app_auth_token else b""
    return head + body + b"\n" + tail


def response_sign_content(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What the platform signs in an answer: `timestamp\\nnonce\\nbody\\n`."""
    return f"{timestamp}\n{nonce}\n".encode("ascii") + body + b"\n"


def verify_sha256_rsa(content: bytes, signature_text: str, public_key: rsa.RSAPublicKey) -> bool:
    """True only for a valid signature; garbage from the wire is False, never an exception."""
    signature = decode_signature(signature_text, public_key.key_size)
    if signature is None:
        return False
    try:
        public_key.verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def sign_sha256_rsa(content: bytes, private_key: rsa.RSAPrivateKey) -> str:
    signature = private_key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def v3_code(sub_code: str) -> str:
    """isv.invalid-signature -> invalid-signature; ACQ.* and unprefixed codes as they are."""
    for prefix in _PREFIXES:
        if sub_code.startswith(prefix):
            return sub_code[len(prefix) :]
    return sub_code


def http_status(error: WireError) -> int:
    code = v3_code(error.sub_code)
    return _STATUS_BY_CODE.get(code) or _STATUS_BY_GATEWAY_CODE[error.gateway_code]


@dataclass(frozen=True)
class _Signer:
    """What signs an answer: the app's platform key generation, and the certificate SN to
    name in certificate mode. No generation: the answer goes unsigned."""

    generation: int | None = None
    cert_sn: str | None = None


class AlipayV3:
    def __init__(
        self,
        gateway: AlipayGateway,
        nonces: Nonces,
        *,
        wall_clock_s: Callable[[], float] = time.time,
    ) -> None:
        # The gateway's parts, read per call: features install handlers, the certificate
        # mode and the ISV hook on the gateway after it is built.
        self.gateway = gateway
        self.nonces = nonces
        # The wall clock, not platform time: request timestamps come from merchants' clocks,
        # and the sandbox clock may run ahead (as on the gateway).
        self._now_s = wall_clock_s

    def handle(self, request: V3Request) -> V3Reply:
        signer = _Signer()
        trace_id = _trace_id(request.headers.get("alipay-request-id"))
        try:
            route = V3_ROUTES.get(request.path)
            if route is None:
                raise WireError("isv.invalid-method", "不存在的接口路径")
            if request.http_method != route.verb:
                message = f"请使用{route.verb}"
                return self._reply(
                    405, {"code": "invalid-method", "message": message}, signer, trace_id
                )
            if len(request.body) > BODY_SIZE_MAX_BYTES:
                raise WireError(
                    "isv.request-too-large", f"body exceeds {BODY_SIZE_MAX_BYTES} bytes"
                )
            if len(request.path_and_query) > PATH_AND_QUERY_LENGTH_MAX:
                raise WireError("isv.request-too-large", "the request target is too long")
            authorization = parse_authorization(request.headers.get("authorization"))
            app = self.gateway.merchants.find_app(authorization.app_id)
            if app is None or not app.active:
                raise WireError("isv.invalid-app-id", "无效的AppID参数")
            signer = _Signer(app.platform_key_generation)
            cert_request = self._cert_request(authorization, request.headers)
            signer = _Signer(
                app.platform_key_generation,
                self.gateway.cert_mode.answer_sn(cert_request, app.platform_key_generation),
            )
            self.gateway.cert_mode.check(cert_request, app)
            fields, content_key = self._call(request, route, authorization, app)
            return self._reply(200, fields, signer, trace_id, content_key)
        except DomainError as error:
            wire_error = wire_error_for(error)
            return self._error(wire_error, signer, trace_id)
        except Exception:  # a bug still answers in the protocol, and is logged
            log.exception("v3 call %s failed", request.path[:128])
            return self._error(WireError("isp.unknow-error", "系统繁忙"), signer, trace_id)

    def _call(
        self, request: V3Request, route: V3Route, authorization: Authorization, app: App
    ) -> tuple[dict[str, object], bytes | None]:
        """The handler's answer, and the app's AES key when the request came encrypted."""
        method = route.method
        token = request.headers.get("alipay-app-auth-token") or None
        if token is not None and len(token) > APP_AUTH_TOKEN_LENGTH_MAX:
            raise WireError("aop.invalid-app-auth-token", "无效的应用授权令牌")
        content = request_sign_content(
            authorization.auth_string,
            request.http_method,
            request.path_and_query,
            request.body,
            token,
        )
        public_key = load_public_key(app.public_key)
        if not verify_sha256_rsa(content, authorization.sign, public_key):
            shown = json.dumps(content.decode("utf-8", "replace"), ensure_ascii=False)
            raise WireError("isv.invalid-signature", _INVALID_SIGNATURE_MESSAGE + shown)
        now_s = self._now_s()
        self._check_timestamp(authorization, now_s)
        self.gateway.call_limits.take(app.app_id, method)
        query = _query_fields(request.path_and_query) if _reads_query(route) else {}
        if route.verb in QUERY_VERBS and request.body:
            raise WireError(
                "isv.invalid-parameter", f"{route.verb} 请求的参数应在查询串中，不能有请求体"
            )
        biz_text, content_key = self._open_body(request, app.app_id)
        if route.verb in QUERY_VERBS:
            biz: dict[str, object] = dict(query)
            biz_text = json.dumps(biz, ensure_ascii=False, separators=(",", ":"))
        else:
            biz = _parse_json(biz_text)
        top_level = _top_level_fields(route, query, biz)
        notify_url = biz.pop("notify_url", None)
        if notify_url is not None and (
            not isinstance(notify_url, str) or len(notify_url) > NOTIFY_URL_LENGTH_MAX
        ):
            raise WireError("isv.invalid-parameter", "notify_url 无效")
        common = wire.CommonParams(
            app_id=app.app_id,
            method=method,
            sign_type="RSA2",
            sign=authorization.sign,
            timestamp=_beijing_text(authorization.timestamp_ms),
            version="1.0",
            biz_content=biz_text,
            notify_url=notify_url or None,
            return_url=None,
            app_auth_token=token,
        )
        acting = self.gateway.on_behalf.acting_app(app, common)
        if not self.nonces.first_use(app.app_id, authorization.nonce, int(now_s * 1_000_000)):
            raise WireError("isv.invalid-parameter", "nonce 已使用过：每个请求须用新的 nonce")
        now_us = self.gateway.clock.now_us()
        params = {
            **top_level,
            "app_id": app.app_id,
            "method": method,
            "charset": "utf-8",
            "version": "1.0",
        }
        call = Call(acting, method, biz, common, "utf-8", now_us, params)
        answer = dict(self.gateway.methods.table[method](call))
        # The bare business object: v3 says success with HTTP 200, not with code/msg.
        answer.pop("code", None)
        answer.pop("msg", None)
        return answer, content_key

    def _open_body(self, request: V3Request, app_id: str) -> tuple[str, bytes | None]:
        """The body's JSON text, and the key that opened it when it came encrypted. Only after
        the signature check: the refusals name the app's configuration."""
        media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        encrypt_type = _encrypt_type(request.headers)
        # A cipher that is named must exist and the app must have its key, body or not: a
        # request naming SM4 over no content is refused here, before its nonce is spent.
        key = (
            content_crypto.content_key(encrypt_type, app_id, self.gateway.content_keys)
            if encrypt_type is not None
            else None
        )
        if key is None or not request.body:
            # Nothing to open (as on the gateway, a cipher named over no content): plain.
            if request.body and media_type != "application/json":
                raise WireError("isv.invalid-content-type", "Content-Type 应为 application/json")
            return _utf8_text(request.body), None
        if media_type not in ENCRYPTED_MEDIA_TYPES:
            raise WireError("isv.invalid-content-type", "加密请求的 Content-Type 应为 text/plain")
        # Non-ASCII bytes become U+FFFD, which is no base64: decryption-error-unknown.
        sealed = request.body.decode("ascii", "replace")
        return content_crypto.open_biz_content(sealed, key, "utf-8"), key

    def _check_timestamp(self, authorization: Authorization, now_s: float) -> None:
        sent_s = authorization.timestamp_ms / 1000
        window_s = self.gateway.timestamp_window_s
        if abs(now_s - sent_s) > window_s:
            raise WireError("isv.invalid-timestamp", f"timestamp 与当前时间相差超过 {window_s} 秒")
        expired = authorization.expired_seconds
        if expired is not None and now_s - sent_s > expired:
            raise WireError("isv.invalid-timestamp", f"请求已过期（expired_seconds={expired}）")

    def _cert_request(
        self, authorization: Authorization, headers: Mapping[str, str]
    ) -> wire.GatewayRequest:
        """The certificate SNs as the gateway's certificate mode reads them."""
        params = {
            APP_CERT_SN: authorization.app_cert_sn or "",
            ROOT_CERT_SN: headers.get("alipay-root-cert-sn") or "",
        }
        return wire.GatewayRequest({k: v for k, v in params.items() if v}, "utf-8")

    def _error(self, error: WireError, signer: _Signer, trace_id: str) -> V3Reply:
        fields = {"code": v3_code(error.sub_code), "message": error.sub_msg}
        return self._reply(http_status(error), fields, signer, trace_id)

    def _reply(
        self,
        status: int,
        fields: Mapping[str, object],
        signer: _Signer,
        trace_id: str,
        content_key: bytes | None = None,
    ) -> V3Reply:
        body = encode_response_object(fields)
        content_type = "application/json;charset=utf-8"
        if content_key is not None:
            # The whole body is the ciphertext, and the signature below covers it as sent.
            body = content_crypto.encrypt(body, content_key).encode("ascii")
            content_type = "text/plain;charset=utf-8"
        headers = {"content-type": content_type, "alipay-trace-id": trace_id}
        if signer.generation is not None:
            key = self.gateway.signing_keys.for_generation(signer.generation)
            timestamp = str(int(self._now_s() * 1000))
            nonce = str(uuid.uuid4())
            headers["alipay-timestamp"] = timestamp
            headers["alipay-nonce"] = nonce
            headers["alipay-signature"] = sign_sha256_rsa(
                response_sign_content(timestamp, nonce, body), key
            )
            if signer.cert_sn is not None:
                headers["alipay-sn"] = signer.cert_sn
        return V3Reply(status, body, headers)


def _encrypt_type(headers: Mapping[str, str]) -> str | None:
    """The cipher the request names, None for a request in plain. Two headers naming two
    ciphers name none that exists (refused as not-valid-encrypt-type)."""
    named = sorted({headers.get(name) or "" for name in ENCRYPT_TYPE_HEADERS} - {""})
    return ",".join(named) or None


def _reads_query(route: V3Route) -> bool:
    return route.verb in QUERY_VERBS or bool(route.top_level)


def _query_fields(path_and_query: str) -> dict[str, str]:
    """The query string's fields (form-decoded as the SDKs encode them: `+` or %20 for a
    space, UTF-8 escapes). A field named twice, bytes that are not UTF-8 or more than
    QUERY_FIELD_COUNT_MAX fields are refused: which value counts would be a guess."""
    _, _, query = path_and_query.partition("?")
    try:
        # The target arrives as latin-1 text (web/v3.py): back to its bytes, then UTF-8.
        text = query.encode("latin-1").decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=QUERY_FIELD_COUNT_MAX,
        )
    except (UnicodeError, ValueError):
        raise WireError("isv.invalid-parameter", "查询参数无效：应为 UTF-8 的表单编码") from None
    fields: dict[str, str] = {}
    for name, field_value in pairs:
        if name in fields:
            raise WireError("isv.invalid-parameter", f"查询参数重复：{name[:64]}")
        fields[name] = field_value
    return fields


def _top_level_fields(
    route: V3Route, query: Mapping[str, str], biz: Mapping[str, object]
) -> dict[str, str]:
    """The route's classic top-level fields, from the query string or else the body."""
    found: dict[str, str] = {}
    for name in sorted(route.top_level):
        candidate = query.get(name, biz.get(name))
        if isinstance(candidate, str):
            found[name] = candidate
    return found


def _utf8_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("isv.illegal-json", "请求体应为 UTF-8 编码的 JSON") from None


def _parse_json(text: str) -> dict[str, object]:
    try:
        return wire.parse_biz_content(text)
    except WireError as error:
        raise WireError("isv.illegal-json", error.sub_msg.replace("biz_content", "body")) from None


def _beijing_text(timestamp_ms: int) -> str:
    return wire.format_timestamp(datetime.fromtimestamp(timestamp_ms / 1000, UTC))


def _trace_id(request_id: str | None) -> str:
    if request_id and REQUEST_ID_PATTERN.fullmatch(request_id):
        return request_id
    return uuid.uuid4().hex


__all__ = [
    "AUTH_SCHEME",
    "QUERY_VERBS",
    "V3_METHODS",
    "V3_ROUTES",
    "AlipayV3",
    "Authorization",
    "Nonces",
    "V3Reply",
    "V3Request",
    "V3Route",
    "parse_authorization",
    "request_sign_content",
    "response_sign_content",
]
