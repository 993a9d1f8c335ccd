"""City services wiring: billers, bill payments and mobile top-ups, saved accounts; the sandbox
biller behind its timeout; the confirmation job, the reminder sweep, reconcile checks, and the
answer an idempotent REST call gets after a crash.

Needs operations (`audit`), the wallet (`users`, `devices`, `idempotency`) and the gateway
(`merchants`). Services land in `platform.services`: "billers", "billpay", "bill_accounts",
"sandbox_billers" (the sandbox biller itself, for its script and fault knobs).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from paybao.adapters.billers.sandbox import SandboxBillers
from paybao.adapters.billers.timed import TimedChannel
from paybao.adapters.db.billpay_checks import BILLPAY_CHECKS
from paybao.adapters.db.billpay_store import SqlBillpayStore
from paybao.adapters.sandbox_faults import Faults
from paybao.domain.billpay import CITY_NAMES, display_name
from paybao.domain.money import format_yuan
from paybao.services.billpay import REFERENCE_PREFIX, BillpayService
from paybao.services.billpay_accounts import SavedAccountService
from paybao.services.billpay_billers import BillerService
from paybao.services.billpay_records import Biller, BillpayPolicy, Receipt
from paybao.services.clock import datetime_from_us

if TYPE_CHECKING:
    from paybao.bootstrap import Platform
    from paybao.settings import Settings


def install(platform: Platform) -> None:
    services = platform.services
    settings = platform.settings
    store = SqlBillpayStore(platform.db.dialect)
    billers = BillerService(
        platform.db, store, services["merchants"], platform.clock, services.get("audit")
    )
    faults = Faults(
        settings.billpay_sandbox_latency_ms,
        settings.billpay_sandbox_timeout_rate,
        settings.billpay_sandbox_failure_rate,
    )
    sandbox = SandboxBillers(platform.engine, platform.clock, faults)
    payments = BillpayService(
        db=platform.db,
        store=store,
        billers=billers,
        channel=TimedChannel(sandbox, settings.billpay_biller_timeout_s),
        ledger=platform.ledger,
        users=services["users"],
        jobs=platform.jobs,
        clock=platform.clock,
        policy=policy_from(settings),
        devices=services.get("devices"),
        idempotency=services.get("idempotency"),
    )
    accounts = SavedAccountService(platform.db, store, payments, services["users"], platform.clock)
    payments.install_jobs()
    platform.sweeps.append(accounts.refresh_due)
    platform.reconcile.checks.extend(BILLPAY_CHECKS)
    idempotency = services.get("idempotency")
    if idempotency is not None:
        idempotency.renderers[REFERENCE_PREFIX] = lambda reference: (
            200,
            json.dumps(receipt_answer(payments.payment_of(int(reference.split(":")[1])))),
        )
    services.update(
        billers=billers, billpay=payments, bill_accounts=accounts, sandbox_billers=sandbox
    )


def policy_from(settings: Settings) -> BillpayPolicy:
    return BillpayPolicy(
        prepay_over_fen_max=settings.billpay_prepay_over_fen_max,
        saved_accounts_max=settings.billpay_saved_accounts_max,
        refresh_s=settings.billpay_refresh_s,
        retry_delay_s=settings.billpay_retry_delay_s,
        answer_wait_s=settings.billpay_answer_wait_s,
    )


def biller_answer(biller: Biller) -> dict[str, Any]:
    """A biller as the REST API shows it (web/api_billpay.py answers the same)."""
    return {
        "id": biller.id,
        "code": biller.code,
        "name": biller.name,
        "category": str(biller.category),
        "city": biller.city,
        "city_name": display_name(CITY_NAMES[biller.city], "zh"),
    }


def receipt_answer(receipt: Receipt) -> dict[str, Any]:
    """The REST answer of a payment or top-up: its receipt."""
    payment = receipt.payment
    finished = payment.finished_at_us
    return {
        "id": payment.id,
        "kind": str(payment.kind),
        "status": str(payment.status),
        "amount_fen": payment.amount_fen,
        "amount": format_yuan(payment.amount_fen),
        "biller": biller_answer(receipt.biller),
        "account_no": payment.account_no,
        "holder_masked": payment.holder_masked,
        "period": payment.period,
        "outstanding_fen": payment.outstanding_fen,
        "failure_code": payment.failure_code,
        "created_at": datetime_from_us(payment.created_at_us).isoformat(),
        "finished_at": None if finished is None else datetime_from_us(finished).isoformat(),
    }
