"""Forgotten passwords (忘记密码): the login password signed out, the payment password signed
in. On the wallet's users and SMS codes, so installed after the wallet; audited in the trail
the operations wiring installs.

Service lands in `platform.services`: "password_resets".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.user_token_store import SqlUserTokenStore
from paybao.services.password_resets import PasswordResetService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    services["password_resets"] = PasswordResetService(
        platform.db,
        services["users"],
        services["sms"],
        SqlUserTokenStore(),
        platform.clock,
        audit=services.get("audit"),
    )
