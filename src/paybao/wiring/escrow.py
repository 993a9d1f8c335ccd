"""Escrow wiring: the escrow service, its timer handler, reconcile checks and gateway methods.

Needs the wallet (`users`) and, when installed, the gateway (`merchants`, `alipay_methods`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.escrow_methods import EscrowMethods, MerchantEscrowEvents
from paybao.adapters.db.escrow_checks import ESCROW_CHECKS
from paybao.adapters.db.escrow_store import SqlEscrowStore
from paybao.domain.escrow import EscrowTimers, GoodsType
from paybao.services.escrow import EscrowPolicy, EscrowService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform
    from paybao.settings import Settings


def install(platform: Platform) -> None:
    settings = platform.settings
    notify = platform.services.get("notify")
    escrow = EscrowService(
        db=platform.db,
        store=SqlEscrowStore(platform.db.dialect),
        ledger=platform.ledger,
        clock=platform.clock,
        jobs=platform.jobs,
        wallets=platform.services["users"],
        policy=policy_from(settings),
        events=MerchantEscrowEvents(notify) if notify is not None else None,
        discounts=platform.services.get("marketing"),  # coupons, when installed before us
    )
    escrow.install_jobs()
    platform.reconcile.checks.extend(ESCROW_CHECKS)
    platform.services["escrow"] = escrow
    methods = platform.services.get("alipay_methods")
    if methods is not None:
        # Our `paybao.*` methods join the gateway's table; the gateway signs and dispatches.
        escrow_methods = EscrowMethods(
            escrow=escrow,
            merchants=platform.services["merchants"],
            clock=platform.sandbox_clock,
            methods=methods,
            sandbox=settings.sandbox,
        )
        methods.table.update(escrow_methods.table())


def policy_from(settings: Settings) -> EscrowPolicy:
    timers = EscrowTimers(
        confirm_s={
            GoodsType.AUTO_RECHARGE: settings.escrow_confirm_s_auto_recharge,
            GoodsType.AUTO_DELIVERY: settings.escrow_confirm_s_auto_delivery,
            GoodsType.VIRTUAL: settings.escrow_confirm_s_virtual,
            GoodsType.EXPRESS: settings.escrow_confirm_s_express,
            GoodsType.SURFACE_MAIL: settings.escrow_confirm_s_surface_mail,
        },
        refund_response_s=settings.escrow_refund_response_s,
        escalate_window_s=settings.escrow_escalate_window_s,
    )
    return EscrowPolicy(
        timers=timers,
        market_fee_rate_ppm=settings.escrow_market_fee_rate_ppm,
        pay_timeout_s=settings.escrow_pay_timeout_s,
    )
