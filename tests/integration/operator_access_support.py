"""Helpers for the operator access tests: a merchant notification that was not delivered."""

from __future__ import annotations

from tests.integration.gateway_support import make_buyer, make_shop
from tests.integration.merchant_portal_support import paid_trade

from paybao.bootstrap import Platform

# Nothing listens on the discard port: every delivery fails fast.
DEAD_URL = "http://127.0.0.1:9/notify"


def undelivered_notification(platform: Platform) -> str:
    """A paid trade whose merchant's endpoint does not answer: one failed delivery."""
    shop = make_shop(platform, notify_url=DEAD_URL)
    paid_trade(platform, shop, make_buyer(platform), "ROLES-1", notify_url=DEAD_URL)
    platform.jobs.run_due()
    found = platform.services["notify"].notifications_of(shop.merchant.id)
    assert [n.attempts for n in found] == [1]
    return str(found[0].notify_id)
