"""Marketing (coupons) wiring: the marketing service, its reconcile checks, and its plugs into
the trade payment path (coupons price and pay part of trades; answers and notifications name
the coupons a trade used).

Needs operations (the audit trail) and the gateway (merchants, trades, methods, notification
forms) installed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.coupon_checks import COUPON_CHECKS
from paybao.adapters.db.coupon_store import SqlCouponStore
from paybao.services.marketing import MarketingService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    marketing = MarketingService(
        db=platform.db,
        store=SqlCouponStore(),
        clock=platform.clock,
        audit=services["audit"],
        merchants=services["merchants"],
        trades=services["trade_store"],
    )
    platform.reconcile.checks.extend(COUPON_CHECKS)
    services["trades"].discounts = marketing
    services["alipay_methods"].vouchers_of = marketing.vouchers_of
    services["notification_forms"].vouchers_of = marketing.vouchers_of
    services["marketing"] = marketing
