"""Huabei credit wiring: the credit service, its timers (bills, penalties, interest, installment
periods), bill installments, reconcile checks, and its plugs into the trade payment path (credit
pays trades; refunds of credit-paid trades go back to the line).

Needs operations (the audit trail), the wallet (users, devices, idempotency) and the gateway
(trades, refunds) installed first.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from paybao.adapters.db.credit_checks import CREDIT_CHECKS
from paybao.adapters.db.credit_installment_store import SqlInstallmentStore
from paybao.adapters.db.credit_store import SqlCreditStore
from paybao.domain.credit import CreditPolicy
from paybao.domain.credit_installments import Plan
from paybao.services.credit import REPAYMENT_REFERENCE, CreditService, Repayment
from paybao.services.credit_billing import CreditBilling
from paybao.services.credit_installments import (
    INSTALLMENT_REFERENCE,
    PREPAYMENT_REFERENCE,
    InstallmentService,
    plan_answer,
)

if TYPE_CHECKING:
    from paybao.bootstrap import Platform
    from paybao.settings import Settings


def install(platform: Platform) -> None:
    services = platform.services
    credit = CreditService(
        db=platform.db,
        store=SqlCreditStore(platform.db.dialect),
        ledger=platform.ledger,
        clock=platform.clock,
        jobs=platform.jobs,
        users=services["users"],
        confirmer=services["devices"],
        audit=services["audit"],
        policy=policy_from(platform.settings),
        idempotency=services["idempotency"],
        answer_of=repayment_answer,
    )
    plans = SqlInstallmentStore(platform.db.dialect)
    CreditBilling(credit, plans).install_jobs()
    installments = InstallmentService(credit, plans, answer_of=installment_answer)
    platform.reconcile.checks.extend(CREDIT_CHECKS)
    # After a crash between a change's commit and its answer, a retry gets what was done.
    renderers = services["idempotency"].renderers
    renderers[REPAYMENT_REFERENCE] = lambda reference: repayment_answer(
        credit.repayment(int(reference.partition(":")[2]))
    )
    for prefix in (INSTALLMENT_REFERENCE, PREPAYMENT_REFERENCE):
        renderers[prefix] = lambda reference: installment_answer(
            installments.plan_by_id(int(reference.partition(":")[2]))
        )
    services["trades"].credit = credit
    services["refunds"].credit_refunds = credit
    services["credit"] = credit
    services["credit_installments"] = installments


def repayment_answer(repayment: Repayment) -> tuple[int, str]:
    """The REST answer of a repayment, as `web/api_credit.py` renders it."""
    return 200, json.dumps(dataclasses.asdict(repayment), ensure_ascii=False)


def installment_answer(plan: Plan) -> tuple[int, str]:
    """The REST answer of a conversion or a prepayment, as `web/api_credit.py` renders it."""
    return 200, json.dumps(plan_answer(plan), ensure_ascii=False)


def policy_from(settings: Settings) -> CreditPolicy:
    return CreditPolicy(
        limit_fen_min=settings.credit_limit_fen_min,
        limit_fen_max=settings.credit_limit_fen_max,
        penalty_rate_ppm=settings.credit_penalty_rate_ppm,
    )
