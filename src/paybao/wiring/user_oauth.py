"""User OAuth wiring ("log in with paybao"): the service, and alipay.system.oauth.token and
alipay.user.info.share on the gateway.

Needs operations (`audit`), the wallet (`users`) and the gateway (`merchants`,
`alipay_methods`, `alipay_gateway`) installed first. The service lands in
`platform.services["user_oauth"]`; the pages are web/pages_oauth.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.oauth_methods import OAuthMethods
from paybao.adapters.db.user_oauth_store import SqlUserOAuthStore
from paybao.services.user_oauth import UserOAuthService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    oauth = UserOAuthService(
        db=platform.db,
        store=SqlUserOAuthStore(platform.db.dialect),
        clock=platform.clock,
        merchants=services["merchants"],
        users=services["users"],
        audit=services["audit"],
    )
    methods = services.get("alipay_methods")
    if methods is not None:
        OAuthMethods(oauth, services["users"]).install(methods, services.get("alipay_gateway"))
    services["user_oauth"] = oauth
