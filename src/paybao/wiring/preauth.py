"""Fund pre-authorisation wiring: the service and its timer, reconcile checks, the renderer of
fund_auth_freeze / fund_auth_unfreeze notifications, and the gateway methods.

Needs the wallet (`users`) and the gateway (`merchants`, `trades`, `notify`, `alipay_methods`,
`alipay_gateway`) installed first; after the agreements, so that its alipay.trade.pay branch
(auth_no) comes first and hands everything else on to theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.preauth_methods import PreauthMethods
from paybao.adapters.alipay.preauth_notify import MerchantPreauthEvents, PreauthAwareForms
from paybao.adapters.db.preauth_checks import PREAUTH_CHECKS
from paybao.adapters.db.preauth_store import SqlPreauthStore
from paybao.services.preauth import PreauthService
from paybao.services.preauth_records import PreauthPolicy

if TYPE_CHECKING:
    from paybao.bootstrap import Platform
    from paybao.settings import Settings


def policy_from(settings: Settings) -> PreauthPolicy:
    return PreauthPolicy(
        freeze_timeout_s=settings.preauth_freeze_timeout_s,
        confirm_timeout_s=settings.preauth_confirm_timeout_s,
    )


def install(platform: Platform) -> None:
    services = platform.services
    users, notify = services["users"], services["notify"]
    preauth = PreauthService(
        db=platform.db,
        store=SqlPreauthStore(platform.db.dialect),
        ledger=platform.ledger,
        clock=platform.clock,
        jobs=platform.jobs,
        wallets=users,
        trades=services["trades"],
        merchants=services["merchants"],
        policy=policy_from(platform.settings),
        events=MerchantPreauthEvents(notify),
    )
    preauth.install_jobs()
    # Pre-authorisation snapshots in the notification outbox are rendered here, others as before.
    notify.renderer = PreauthAwareForms(services["app_signing_keys"], users, notify.renderer)
    PreauthMethods(
        preauth=preauth, methods=services["alipay_methods"], merchants=services["merchants"]
    ).install(services["alipay_gateway"])
    platform.reconcile.checks.extend(PREAUTH_CHECKS)
    services["preauth"] = preauth
