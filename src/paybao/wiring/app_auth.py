"""Third-party app authorisation wiring (第三方应用授权): the service, alipay.open.auth.token.app
and its query on the gateway, and the gateway's app_auth_token hook.

Needs operations (`audit`) and the gateway (`merchants`, `alipay_methods`, `alipay_gateway`)
installed first. The service lands in `platform.services["app_auth"]`; the pages are
web/pages_app_auth.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.isv_methods import AppAuthMethods
from paybao.adapters.db.app_auth_store import SqlAppAuthStore
from paybao.services.app_auth import AppAuthService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    app_auth = AppAuthService(
        db=platform.db,
        store=SqlAppAuthStore(platform.db.dialect),
        clock=platform.clock,
        merchants=services["merchants"],
        audit=services["audit"],
    )
    methods = services["alipay_methods"]
    isv = AppAuthMethods(app_auth, services["merchants"], methods)
    isv.install(methods)
    services["alipay_gateway"].on_behalf = isv
    services["app_auth"] = app_auth
