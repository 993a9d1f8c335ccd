"""Merchant portal wiring: merchant sign-in passwords and sign-up; card-funded cashier payments.

Needs the wallet (hasher, users, cards, bank) and the gateway (merchants, trades) first.
Services land in `platform.services`: "merchant_accounts", "card_pay".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.merchant_portal_store import SqlMerchantLoginStore
from paybao.services.merchant_accounts import MerchantAccountService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    accounts = MerchantAccountService(
        platform.db,
        SqlMerchantLoginStore(),
        services["merchants"],
        services["password_hasher"],
        platform.clock,
    )
    services.update(merchant_accounts=accounts)
