"""Certificate mode at the gateway (公钥证书模式, alipay-protocol.md §1.1, §2.1, §5.3).

A request in certificate mode carries `app_cert_sn` (the SN of the app's certificate) and
`alipay_root_cert_sn` (the SNs of the RSA roots in the merchant's alipayRootCert.crt, joined by
`_`), both signed like every other parameter. The signature check itself does not change: the
app certificate holds the key the app registered. Refusals, with Alipay's sub_codes as seen in
real answers:
- `app_cert_sn` missing while `alipay_root_cert_sn` is sent: 40001 isv.missing-app-cert-sn;
- the root SN list does not name the platform root: 40002 isv.invalid-alipay-root-cert-sn;
- `app_cert_sn` names no current certificate of the app (unknown, another app's, revoked,
  expired, or made for a key the app replaced since): 40002 isv.app-cert-not-exist.

`alipay.open.app.alipaycert.download` (biz_content `alipay_cert_sn`) answers
`alipay_cert_content`, the base64 of a platform certificate's PEM: Alipay's Java SDK calls it
when an answer names a platform certificate it does not hold (after a key rotation). An SN no
platform certificate has is 40004 `CERT_NOT_EXIST` (paybao's choice: Alipay's code for it is
not documented).

Every signed answer to such a request ends with `"alipay_cert_sn":"<SN>"` AFTER `sign`,
naming the certificate of the platform key that signed it: the official SDK cuts the signed
text at the last `},"sign":"`, so nothing may stand between the object and `sign`.
"""

from __future__ import annotations

import base64
from typing import Final, Protocol

from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.methods import Call, Fields, Methods
from paybao.adapters.alipay.wire import GatewayRequest
from paybao.domain.app_certificates import SN_LENGTH
from paybao.services.app_certificates import AppCertificateService
from paybao.services.merchants import App

CERT_DOWNLOAD_METHOD: Final = "alipay.open.app.alipaycert.download"
APP_CERT_SN: Final = "app_cert_sn"
ROOT_CERT_SN: Final = "alipay_root_cert_sn"
# Alipay's bundle names four roots; ours two. Anything much longer is not a root SN list.
ROOT_SN_LENGTH_MAX: Final = 16 * (SN_LENGTH + 1)


class CertMode(Protocol):
    def answer_sn(self, request: GatewayRequest, generation: int | None) -> str | None:
        """The platform certificate SN a signed answer carries, None outside certificate mode."""
        ...

    def check(self, request: GatewayRequest, app: App) -> None:
        """Raise the Alipay error when the request names certificates that are not the app's."""
        ...


class NoCertMode:
    """Certificate mode not installed: the two parameters are signed and otherwise ignored."""

    def answer_sn(self, request: GatewayRequest, generation: int | None) -> str | None:
        return None

    def check(self, request: GatewayRequest, app: App) -> None:
        return None


NO_CERT_MODE: Final = NoCertMode()


class AppCertMode:
    def __init__(self, certificates: AppCertificateService) -> None:
        self.certificates = certificates

    def install(self, methods: Methods) -> None:
        methods.table[CERT_DOWNLOAD_METHOD] = self.download

    def download(self, call: Call) -> Fields:
        sn = call.biz.get("alipay_cert_sn")
        if not isinstance(sn, str) or not sn:
            raise WireError(
                "isv.missing-parameter", "缺少必选参数 alipay_cert_sn", gateway_code="40001"
            )
        pem = self.certificates.platform_cert_by_sn(sn)
        if pem is None:
            raise WireError("CERT_NOT_EXIST", "支付宝公钥证书不存在", gateway_code="40004")
        return {"alipay_cert_content": base64.b64encode(pem.encode("ascii")).decode("ascii")}

    def answer_sn(self, request: GatewayRequest, generation: int | None) -> str | None:
        if generation is None or not is_cert_mode(request):
            return None
        return self.certificates.platform_cert_sn(generation)

    def check(self, request: GatewayRequest, app: App) -> None:
        if not is_cert_mode(request):
            return
        app_sn = request.get(APP_CERT_SN) or ""
        if not app_sn:
            raise WireError(
                "isv.missing-app-cert-sn", "缺少应用公钥证书序列号", gateway_code="40001"
            )
        root_sns = request.get(ROOT_CERT_SN) or ""
        if len(root_sns) > ROOT_SN_LENGTH_MAX or self.certificates.root_sn() not in root_sns.split(
            "_"
        ):
            raise WireError("isv.invalid-alipay-root-cert-sn", "无效支付宝根证书序列号")
        if len(app_sn) != SN_LENGTH or not self.certificates.is_current(app, app_sn):
            raise WireError("isv.app-cert-not-exist", "应用公钥证书不存在")


def is_cert_mode(request: GatewayRequest) -> bool:
    return bool(request.get(APP_CERT_SN) or request.get(ROOT_CERT_SN))


def with_cert_sn(body: bytes, sn: str) -> bytes:
    """`{"x_response":{…},"sign":"…"}` -> `{…,"sign":"…","alipay_cert_sn":"<sn>"}`."""
    assert body.endswith(b"}") and len(sn) == SN_LENGTH
    return body[:-1] + b',"alipay_cert_sn":"' + sn.encode("ascii") + b'"}'
