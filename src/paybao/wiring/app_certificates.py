"""Certificate mode wiring (公钥证书模式): the platform CA, the app certificate service, and the
gateway's check of requests that name certificates.

Needs operations (`audit`) and the gateway (`merchants`, `app_signing_keys`,
`alipay_gateway`) installed first. The service lands in `platform.services["app_certificates"]`;
the command is cli_certs.py, the portal's downloads web/pages_merchant_certs.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.cert_mode import AppCertMode
from paybao.adapters.alipay.platform_ca import PlatformCertificateAuthority
from paybao.adapters.db.app_certificate_store import SqlAppCertificateStore
from paybao.services.app_certificates import AppCertificateService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    # The same key ring that signs the answers: a generation's certificate holds its key.
    keyring = services["app_signing_keys"].keyring
    certificates = AppCertificateService(
        db=platform.db,
        store=SqlAppCertificateStore(),
        ca=PlatformCertificateAuthority(platform.settings.data_dir, keyring),
        apps=services["merchants"],
        clock=platform.clock,
        audit=services["audit"],
    )
    cert_mode = AppCertMode(certificates)
    services["alipay_gateway"].cert_mode = cert_mode
    cert_mode.install(services["alipay_methods"])
    services["app_certificates"] = certificates
