"""Profit sharing (分账) wiring: the royalty service, its gateway methods
(alipay.trade.royalty.relation.* / rate.query, alipay.trade.order.settle / settle.query /
onsettle.query, and refund_royalty_parameters on alipay.trade.refund), the refunds' hook that
takes shares back (退分账), its reconcile checks, and asynchronous settles: their job and
their notification (alipay.trade.order.settle.notify) on the trade notifications' outbox.

Needs the wallet (`users`) and the gateway (`merchants`, `trades`, `alipay_methods`) installed
first. Services land in `platform.services`: "royalty".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.royalty_methods import RoyaltyMethods
from paybao.adapters.alipay.royalty_notify import MerchantRoyaltyEvents, RoyaltyAwareForms
from paybao.adapters.db.royalty_checks import ROYALTY_CHECKS
from paybao.adapters.db.royalty_store import SqlRoyaltyStore
from paybao.services.royalty import RoyaltyPolicy, RoyaltyService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    royalty = RoyaltyService(
        db=platform.db,
        store=SqlRoyaltyStore(platform.db.dialect),
        clock=platform.clock,
        ledger=platform.ledger,
        trades=services["trades"],
        merchants=services["merchants"],
        users=services["users"].store,
        policy=RoyaltyPolicy(max_share_percent=platform.settings.royalty_max_share_percent),
        jobs=platform.jobs,
        events=MerchantRoyaltyEvents(services["notify"], services["merchants"]),
    )
    royalty.install_jobs()
    notify = services["notify"]
    notify.renderer = RoyaltyAwareForms(services["app_signing_keys"], notify.renderer)
    services["refunds"].royalty_refunds = royalty
    methods = services.get("alipay_methods")
    if methods is not None:
        RoyaltyMethods(royalty).install(methods)
    platform.reconcile.checks.extend(ROYALTY_CHECKS)
    services.update(royalty=royalty)
