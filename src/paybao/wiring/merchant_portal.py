"""Merchant portal wiring: merchant sign-in passwords and sign-up; card-funded cashier payments
and their refunds back to the card.

Needs the wallet (hasher, users, cards, bank) and the gateway (merchants, trades, refunds) first.
Services land in `platform.services`: "merchant_accounts", "signup_pruning", "card_pay",
"card_refunds"; the refund service sends card-funded trades' refunds back to the card from now
on. A sweep keeps the pruning of old sign-up rows scheduled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.merchant_portal_store import (
    SqlCardPaymentStore,
    SqlCardRefundStore,
    SqlMerchantLoginStore,
    SqlMerchantSignupStore,
)
from paybao.services.card_pay import CardPayService
from paybao.services.card_refunds import CardRefundService
from paybao.services.merchant_accounts import MerchantAccountService, SignUpLimits
from paybao.services.merchant_signups import SignUpPruning, prune_interval_s

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    settings = platform.settings
    signup_store = SqlMerchantSignupStore()
    limits = SignUpLimits(
        per_ip_max=settings.merchant_signups_per_ip_max,
        ip_window_s=settings.merchant_signup_ip_window_s,
        per_contact_max=settings.merchant_signups_per_contact_max,
        contact_window_s=settings.merchant_signup_contact_window_s,
    )
    accounts = MerchantAccountService(
        platform.db,
        SqlMerchantLoginStore(),
        services["merchants"],
        services["password_hasher"],
        platform.clock,
        signup_store,
        limits,
    )
    # Sign-up rows older than the longest limit window count toward nothing: pruned by a job
    # about once per window (hourly to daily).
    keep_s = max(limits.ip_window_s, limits.contact_window_s)
    signup_pruning = SignUpPruning(
        db=platform.db,
        store=signup_store,
        jobs=platform.jobs,
        clock=platform.clock,
        keep_s=keep_s,
        interval_s=prune_interval_s(keep_s),
    )
    signup_pruning.install_jobs()
    platform.sweeps.append(signup_pruning.ensure_scheduled)
    card_payment_store = SqlCardPaymentStore()
    card_pay = CardPayService(
        db=platform.db,
        store=card_payment_store,
        trades=services["trades"],
        users=services["users"],
        cards=services["wallet"].cards,
        ledger=platform.ledger,
        jobs=platform.jobs,
        bank=services["bank"],
        clock=platform.clock,
        query_delay_s=platform.settings.bank_query_delay_s,
    )
    card_pay.install_jobs()
    card_refunds = CardRefundService(
        db=platform.db,
        store=SqlCardRefundStore(),
        payments=card_payment_store,
        cards=services["wallet"].cards,
        ledger=platform.ledger,
        jobs=platform.jobs,
        bank=services["bank"],
        clock=platform.clock,
        retry_delay_s=platform.settings.bank_query_delay_s,
    )
    card_refunds.install_jobs()
    services["refunds"].card_refunds = card_refunds
    # fund_bill_list names a card-funded trade's card type (fund_type / fundType).
    services["alipay_methods"].card_type_of = card_refunds.paying_card_type
    services["notification_forms"].card_type_of = card_refunds.paying_card_type
    services.update(
        merchant_accounts=accounts,
        signup_pruning=signup_pruning,
        card_pay=card_pay,
        card_refunds=card_refunds,
    )
