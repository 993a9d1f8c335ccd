"""Top-up channels wiring: online banking at the sandbox bank (its gateway, paybao's client of
it, the service and its query job) and partner cash codes (partners, codes, the expiry sweep),
with their reconcile checks (the journals, the partners' prefunds, and the bank's daily file of
paid orders as a dated check).

Needs the wallet (`users`, `bank`) and operations (`audit`). Services land in
`platform.services`: "bank_pay" (the sandbox bank's online-banking side), "bank_pay_topups",
"cash_partners", "cash_topups".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from paybao.adapters.banks.sandbox import SandboxBank
from paybao.adapters.banks.sandbox_bank_pay import SandboxBankPay, SandboxBankPayChannel
from paybao.adapters.db.topup_channel_checks import TOPUP_CHANNEL_CHECKS
from paybao.adapters.db.topup_channel_store import SqlTopupChannelStore
from paybao.adapters.sandbox_faults import Faults
from paybao.domain.account_class import ClassPolicy
from paybao.domain.topup_channels import ChannelPolicy
from paybao.services.bank_pay_topups import BankPayService
from paybao.services.cash_topup_partners import CashPartnerService
from paybao.services.cash_topups import CashTopupService
from paybao.services.topup_channel_records import (
    BANK_PAY_IDEMPOTENCY_PREFIX,
    CASH_CODE_IDEMPOTENCY_PREFIX,
)

if TYPE_CHECKING:
    from paybao.bootstrap import Platform
    from paybao.settings import Settings


def install(platform: Platform) -> None:
    settings, services = platform.settings, platform.services
    idempotency = services.get("idempotency")
    store = SqlTopupChannelStore(platform.db.dialect)
    policy = policy_from(settings, services["users"].policy.classes)
    cards = services["bank"]
    if not isinstance(cards, SandboxBank):
        # Card money goes through the operator's bank bridge; online banking is still the
        # sandbox bank's pages, over the sandbox bank's own card accounts (outside sandbox mode
        # it has none, so nobody tops up from them).
        cards = SandboxBank(platform.engine, platform.clock, Faults())
    bank = SandboxBankPay(
        platform.engine, platform.clock, cards, settings.bank_pay_hmac_key.encode()
    )
    # The sandbox bank's pages are served by this platform (web/sandbox_bank_pay_pages.py).
    channel = SandboxBankPayChannel(bank, settings.base_url, settings.bank_pay_timeout_s)
    bank_pay = BankPayService(
        platform.db,
        store,
        services["users"],
        platform.ledger,
        platform.jobs,
        channel,
        platform.clock,
        base_url=settings.base_url,
        policy=policy,
        idempotency=idempotency,
    )
    bank_pay.install_jobs()
    bank.install_jobs(platform.jobs)  # the bank's notice retries
    partners = CashPartnerService(
        platform.db, store, platform.ledger, platform.clock, audit=services.get("audit")
    )
    cash = CashTopupService(
        platform.db,
        store,
        services["users"],
        platform.ledger,
        platform.clock,
        policy=policy,
        idempotency=idempotency,
    )
    platform.sweeps.append(cash.expire_due)
    platform.reconcile.checks.extend(TOPUP_CHANNEL_CHECKS)
    platform.reconcile.dated_checks.append(("bank_pay.bank_file", bank_pay.file_differences))
    if idempotency is not None:
        idempotency.renderers[BANK_PAY_IDEMPOTENCY_PREFIX] = _renderer(bank_pay.answer)
        idempotency.renderers[CASH_CODE_IDEMPOTENCY_PREFIX] = _renderer(cash.answer)
    services.update(
        bank_pay=bank, bank_pay_topups=bank_pay, cash_partners=partners, cash_topups=cash
    )


def policy_from(settings: Settings, classes: ClassPolicy) -> ChannelPolicy:
    return ChannelPolicy(
        bank_pay_ttl_s=settings.bank_pay_ttl_s,
        bank_pay_query_delay_s=settings.bank_pay_query_delay_s,
        cash_code_ttl_s=settings.cash_code_ttl_s,
        cash_amount_min_fen=settings.cash_amount_min_fen,
        cash_amount_max_fen=settings.cash_amount_max_fen,
        classes=classes,
    )


def _renderer(answer: Callable[[int], dict[str, Any]]) -> Callable[[str], tuple[int, str]]:
    """After a crash between the commit and the stored answer, a retry of the create request
    gets the top-up (or code) it made, as it is now: the answer web/api_topup_channels.py
    gives, byte for byte in shape."""

    def render(reference: str) -> tuple[int, str]:
        _, row_id = reference.split(":", 1)
        return 200, json.dumps(answer(int(row_id)), ensure_ascii=False)

    return render
