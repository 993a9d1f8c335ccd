"""Huabei checkout installments wiring (花呗分期 at the cashier): the service, its plugs into the
trade payment path (terms of new trades, the funding check, the draw) and in front of the credit
line's refunds, hb_fq_pay_info in the gateway's answers and notifications, reconcile checks.

Needs the gateway (trades, refunds, methods, notification forms) and credit installed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.checkout_installment_checks import CHECKOUT_INSTALLMENT_CHECKS
from paybao.adapters.db.checkout_installment_store import SqlCheckoutTermsStore
from paybao.adapters.db.credit_installment_store import SqlInstallmentStore
from paybao.services.checkout_installments import CheckoutInstallmentService, TradeSettlements

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    credit = services["credit"]
    installments = CheckoutInstallmentService(
        credit=credit,
        plans=SqlInstallmentStore(platform.db.dialect),
        terms_store=SqlCheckoutTermsStore(),
        settlements=TradeSettlements(services["trades"]),
        policy=services["credit_installments"].policy,
    )
    services["trades"].installments = installments
    # In front of the line's own refunds: a trade paid in installments lowers its plan.
    services["refunds"].credit_refunds = installments
    services["alipay_methods"].installments_of = installments.count_of_trade
    services["notification_forms"].installments_of = installments.count_of_trade
    platform.reconcile.checks.extend(CHECKOUT_INSTALLMENT_CHECKS)
    services["checkout_installments"] = installments
