"""The gateway pipeline: raw request bytes in, the exact response bytes out (alipay-protocol.md).

parse -> common params -> app -> signature -> timestamp window -> call limits -> method ->
biz_content -> service -> signed envelope. Every failure becomes a signed error object under
the method's response key, except an unknown app id, which Alipay answers unsigned. Page
methods answer with a redirect to the cashier (or an HTML error page). Always HTTP 200 for
API answers.
"""

from __future__ import annotations

import html
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from paybao.adapters.alipay import content_crypto, wire
from paybao.adapters.alipay.call_limits import CallLimits
from paybao.adapters.alipay.cert_mode import NO_CERT_MODE, CertMode, with_cert_sn
from paybao.adapters.alipay.envelope import ERROR_RESPONSE_KEY
from paybao.adapters.alipay.errors import WireError, wire_error_for
from paybao.adapters.alipay.methods import PAGE_METHODS, ZERO_AMOUNTS, Call, Methods
from paybao.adapters.alipay.on_behalf import REFUSE_APP_AUTH, OnBehalf
from paybao.adapters.alipay.signing import SignType, parse_sign_type
from paybao.domain.errors import DomainError
from paybao.services.merchants import App, MerchantService
from paybao.services.ports import Clock

log = logging.getLogger(__name__)

SUCCESS_FIELDS: Final = {"code": "10000", "msg": "Success"}
_AMOUNT_METHODS: Final = frozenset({"alipay.trade.pay", "alipay.trade.query"})


@dataclass(frozen=True)
class GatewayReply:
    body: bytes
    content_type: str
    redirect_to: str | None = None


class SigningKeys(Protocol):
    def for_generation(self, generation: int | None) -> rsa.RSAPrivateKey:
        """The platform key of that generation (None: the app is unknown)."""
        ...


@dataclass(frozen=True)
class _Context:
    method: str
    sign_type: SignType
    charset: str
    # The platform key generation of the calling app, once known: it signs the answer.
    key_generation: int | None = None
    # Certificate mode: the SN of that key's certificate, written after `sign` (cert_mode.py).
    cert_sn: str | None = None
    # The app's AES key once an encrypted request has opened: the answer is encrypted too.
    content_key: bytes | None = None


class AlipayGateway:
    def __init__(
        self,
        *,
        methods: Methods,
        merchants: MerchantService,
        clock: Clock,
        signing_keys: SigningKeys,
        timestamp_window_s: int,
        client_utc_offset_minutes: int | None,
        call_limits: CallLimits,
    ) -> None:
        self.methods = methods
        self.merchants = merchants
        self.clock = clock
        self.signing_keys = signing_keys
        self.timestamp_window_s = timestamp_window_s
        self.client_utc_offset_minutes = client_utc_offset_minutes
        self.call_limits = call_limits
        # Page methods answer with the URL the browser goes to (a redirect); features add
        # theirs (agreements: alipay.user.agreement.page.sign).
        self.pages: dict[str, Callable[[Call], str]] = dict.fromkeys(PAGE_METHODS, methods.page_pay)
        # Methods whose refusals Alipay answers under the generic `error_response` key, signed
        # (alipay.system.oauth.token's isv.code-invalid); features add theirs.
        self.error_response_methods: set[str] = set()
        # Requests naming app_cert_sn / alipay_root_cert_sn (wiring/app_certificates.py).
        self.cert_mode: CertMode = NO_CERT_MODE
        # Apps' AES keys for encrypted requests (wiring/content_encryption.py sets the real one).
        self.content_keys: content_crypto.ContentKeys = content_crypto.NoContentKeys()
        # Calls carrying app_auth_token: an ISV acting for a merchant's app (on_behalf.py).
        self.on_behalf: OnBehalf = REFUSE_APP_AUTH

    def handle(self, query: bytes, body: bytes, content_type: str | None) -> GatewayReply:
        charset = "utf-8"
        context: _Context | None = None
        request: wire.GatewayRequest | None = None
        try:
            request = wire.parse_gateway_request(query, body, content_type)
            charset = request.charset_codec
            common = wire.check_common_params(request)
            context = _Context(common.method, common.sign_type, charset)
            app = self.merchants.find_app(common.app_id)
            if app is None or not app.active:
                return self._reply(context, _invalid_app_id(), signed=False)
            generation = app.platform_key_generation
            cert_sn = self.cert_mode.answer_sn(request, generation)
            context = _Context(common.method, common.sign_type, charset, generation, cert_sn)
            return self._call(request, common, app, context)
        except DomainError as error:
            # Only a failed call pays for guessing its method from the raw query.
            context = context or self._best_effort_context(query, request, charset)
            return self._error(context, wire_error_for(error))
        except Exception:  # a bug must still answer in the protocol, and be logged
            context = context or self._best_effort_context(query, request, charset)
            log.exception("gateway call %s failed", context.method)
            return self._error(context, WireError("isp.unknow-error", "系统繁忙"))

    def _call(
        self, request: wire.GatewayRequest, common: wire.CommonParams, app: App, context: _Context
    ) -> GatewayReply:
        self.cert_mode.check(request, app)
        wire.verify_request_signature(request, app.public_key)
        self._check_timestamp(common.timestamp)
        self.call_limits.take(app.app_id, common.method)
        if not self.methods.knows(common.method) and common.method not in self.pages:
            raise WireError("isv.invalid-method", "不存在的方法名")
        content_key = content_crypto.request_key(request.params, app.app_id, self.content_keys)
        if content_key is None:
            return self._answer(request, common, app, context, common.biz_content)
        biz_text = content_crypto.open_biz_content(
            common.biz_content or "", content_key, request.charset_codec
        )
        context = replace(context, content_key=content_key)
        try:  # from here on every answer is encrypted, refusals included
            return self._answer(request, common, app, context, biz_text)
        except DomainError as error:
            return self._error(context, wire_error_for(error))

    def _answer(
        self,
        request: wire.GatewayRequest,
        common: wire.CommonParams,
        app: App,
        context: _Context,
        biz_text: str | None,
    ) -> GatewayReply:
        biz = wire.parse_biz_content(biz_text)
        now_us = self.clock.now_us()
        app = self.on_behalf.acting_app(app, common)  # may be a merchant's app, for an ISV
        call = Call(app, common.method, biz, common, request.charset_codec, now_us, request.params)
        page = self.pages.get(common.method)
        if page is not None:
            url = page(call)
            return GatewayReply(b"", "text/html", redirect_to=url)
        fields = {**SUCCESS_FIELDS, **self.methods.table[common.method](call)}
        return self._reply(context, fields, signed=True)

    def _check_timestamp(self, text: str) -> None:
        timestamp = wire.parse_timestamp(text)
        wire.check_timestamp_window(timestamp, self._client_now(), window_s=self.timestamp_window_s)

    def _client_now(self) -> datetime:
        """Now, on the clock the SDKs stamp requests with (a naive local time meant as
        Beijing time). The wall clock, not platform time: the sandbox clock may run ahead."""
        offset = self.client_utc_offset_minutes
        if offset is None:
            local = datetime.now()  # noqa: DTZ005 (naive on purpose: see docstring)
            return local.replace(tzinfo=wire.BEIJING_TZ)
        zone = timezone(timedelta(minutes=offset))
        return datetime.now(UTC).astimezone(zone).replace(tzinfo=wire.BEIJING_TZ)

    def _error(self, context: _Context, error: WireError) -> GatewayReply:
        if context.method in self.pages:
            return _error_page(error, context.charset)
        if error.sub_code == "isv.invalid-app-id":
            return self._reply(context, dict(error.to_response_fields()), signed=False)
        fields: dict[str, object] = dict(error.to_response_fields())
        if context.method in _AMOUNT_METHODS and fields["code"] == "40004":
            fields.update(ZERO_AMOUNTS)
        if context.method in self.error_response_methods:
            # Not a method name, so envelope.response_key() answers `error_response`.
            context = replace(context, method=ERROR_RESPONSE_KEY)
        return self._reply(context, fields, signed=True)

    def _reply(
        self, context: _Context, fields: Mapping[str, object], *, signed: bool
    ) -> GatewayReply:
        key = self.signing_keys.for_generation(context.key_generation) if signed else None
        if key is not None and context.content_key is not None:
            body = content_crypto.build_encrypted_response(
                context.method,
                fields,
                key,
                context.content_key,
                sign_type=context.sign_type,
                charset=context.charset,
            )
        else:
            body = wire.build_response(
                context.method, fields, key, sign_type=context.sign_type, charset=context.charset
            )
        if signed and context.cert_sn is not None:
            body = with_cert_sn(body, context.cert_sn)
        return GatewayReply(body, f"text/html;charset={context.charset}")

    def _best_effort_context(
        self, query: bytes, request: wire.GatewayRequest | None, charset: str
    ) -> _Context:
        """Method, sign_type and the app's key generation for an answer to a request we
        could not read through (a missing parameter): the app's key still signs it."""
        params = _query_params(query)
        sign_type = parse_sign_type(params.get("sign_type")) or "RSA2"
        app_id = (request.get("app_id") if request is not None else None) or params.get("app_id")
        generation = None
        try:
            app = self.merchants.find_app(app_id or "")
            generation = app.platform_key_generation if app is not None else None
        except Exception:  # the database is down: the error still answers, signed
            log.warning("gateway: the app of a failed call could not be read", exc_info=True)
        return _Context(params.get("method", "error"), sign_type, charset, generation)


def _invalid_app_id() -> dict[str, object]:
    return dict(WireError("isv.invalid-app-id", "无效的AppID参数").to_response_fields())


def _query_params(query: bytes) -> dict[str, str]:
    try:
        return dict(urllib.parse.parse_qsl(query.decode("latin-1"), max_num_fields=256))
    except ValueError:
        return {}


def _error_page(error: WireError, charset: str) -> GatewayReply:
    text = (
        f"<!doctype html><html><head><meta charset='{charset}'><title>支付错误</title></head>"
        f"<body><h1>支付请求有误</h1><p>{html.escape(error.sub_code)}: "
        f"{html.escape(error.sub_msg)}</p></body></html>"
    )
    return GatewayReply(text.encode(charset, "xmlcharrefreplace"), f"text/html;charset={charset}")
