"""Huabei credit wiring: the credit service, its timers and reconcile checks, and its plugs into
the trade payment path (credit pays trades; refunds of credit-paid trades go back to the line).

Needs operations (the audit trail), the wallet (users, devices, idempotency) and the gateway
(trades, refunds) installed first.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from paybao.adapters.db.credit_checks import CREDIT_CHECKS
from paybao.adapters.db.credit_store import SqlCreditStore
from paybao.domain.credit import CreditPolicy
from paybao.services.credit import REPAYMENT_REFERENCE, CreditService, Repayment

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
    credit.install_jobs()
    platform.reconcile.checks.extend(CREDIT_CHECKS)
    # After a crash between the repayment's commit and its answer, a retry gets the repayment.
    services["idempotency"].renderers[REPAYMENT_REFERENCE] = lambda reference: repayment_answer(
        credit.repayment(int(reference.partition(":")[2]))
    )
    services["trades"].credit = credit
    services["refunds"].credit_refunds = credit
    services["credit"] = credit


def repayment_answer(repayment: Repayment) -> tuple[int, str]:
    """The REST answer of a repayment, as `web/api_credit.py` renders it."""
    return 200, json.dumps(dataclasses.asdict(repayment), ensure_ascii=False)


def policy_from(settings: Settings) -> CreditPolicy:
    return CreditPolicy(
        limit_fen_min=settings.credit_limit_fen_min,
        limit_fen_max=settings.credit_limit_fen_max,
        penalty_rate_ppm=settings.credit_penalty_rate_ppm,
    )
