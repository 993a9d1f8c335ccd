"""Withholding agreements wiring: the agreement and withholding services, their reconcile
checks, the notification renderer for dut_user_sign / dut_user_unsign, and gateway methods.

Needs the wallet (`users`) and the gateway (`merchants`, `trades`, `notify`, `alipay_methods`,
`alipay_gateway`) installed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.agreement_methods import AgreementMethods
from paybao.adapters.alipay.agreement_notify import AgreementAwareForms, MerchantAgreementEvents
from paybao.adapters.db.agreement_checks import AGREEMENT_CHECKS
from paybao.adapters.db.agreement_store import SqlAgreementStore
from paybao.domain.agreements import WithholdingLimits
from paybao.services.agreements import AgreementPolicy, AgreementService
from paybao.services.withholding import WithholdingService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform
    from paybao.settings import Settings


def policy_from(settings: Settings) -> AgreementPolicy:
    limits = WithholdingLimits(
        single_fen_max=settings.withholding_single_fen_max,
        day_fen_max=settings.withholding_day_fen_max,
        month_fen_max=settings.withholding_month_fen_max,
    )
    return AgreementPolicy(limits=limits, sign_request_valid_s=settings.agreement_sign_valid_s)


def install(platform: Platform) -> None:
    services = platform.services
    users, notify = services["users"], services["notify"]
    store = SqlAgreementStore(platform.db.dialect)
    policy = policy_from(platform.settings)
    agreements = AgreementService(
        db=platform.db,
        store=store,
        clock=platform.clock,
        users=users,
        apps=services["merchants"],
        events=MerchantAgreementEvents(notify),
        policy=policy,
    )
    withholding = WithholdingService(
        db=platform.db,
        store=store,
        trades=services["trades"],
        merchants=services["merchants"],
        clock=platform.clock,
        limits=policy.limits,
    )
    # Agreement snapshots in the notification outbox are rendered here, trade ones as before.
    forms = AgreementAwareForms(services["app_signing_keys"], users, notify.renderer)
    notify.renderer = forms
    AgreementMethods(
        agreements=agreements,
        withholding=withholding,
        methods=services["alipay_methods"],
        merchants=services["merchants"],
        users=users,
    ).install(services["alipay_gateway"])
    platform.reconcile.checks.extend(AGREEMENT_CHECKS)
    services.update(agreements=agreements, withholding=withholding, agreement_forms=forms)
