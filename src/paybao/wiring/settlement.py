"""Settlement wiring: bills, T+1 payouts, the daily close and the three-way reconciliation.

Needs operations (the audit trail), the wallet (the sandbox bank) and the gateway (merchants,
the method table) first.
Services land in `platform.services`: "settlement", "bills", "day_close", "bank_reconciler".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

from paybao.adapters.bills.gateway_method import bill_url_method
from paybao.adapters.bills.service_adapters import (
    AlipayBillRenderer,
    HmacUrlSigner,
    secret_from_key,
)
from paybao.adapters.db.bill_queries import SqlBillSource
from paybao.adapters.db.reconcile_queries import SqlReconcileSource
from paybao.adapters.db.settlement_store import SqlSettlementStore
from paybao.domain.settlement import SETTLED_CODES
from paybao.services.bank_reconcile import BankReconciler
from paybao.services.bills import BillService
from paybao.services.day_close import DayClose
from paybao.services.settlement import SettlementService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

BILL_METHOD = "alipay.data.dataservice.bill.downloadurl.query"


def install(platform: Platform) -> None:
    services = platform.services
    store = SqlSettlementStore(platform.db.dialect)
    bank = services["bank"]
    audit = services["audit"]
    settlement = SettlementService(
        platform.db,
        store,
        platform.ledger,
        platform.jobs,
        bank,
        platform.clock,
        SETTLED_CODES,
        audit,
    )
    # Bill download URLs are HMAC'ed with a secret from generation 1 of the platform key, not
    # the apps' generations: the secret never leaves paybao, and URLs already handed out stay
    # valid through any rotation.
    key_der = services["platform_key"].private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    bills = BillService(
        platform.db,
        store,
        SqlBillSource(),
        AlipayBillRenderer(),
        HmacUrlSigner(secret_from_key(key_der), platform.settings.base_url),
        platform.clock,
    )
    reconciler = BankReconciler(bank, SqlReconcileSource())
    platform.reconcile.dated_checks.append(("bank.three_way", reconciler.check))
    platform.reconcile.summaries.append(reconciler.totals)
    day_close = DayClose(
        platform.db,
        platform.clock,
        platform.jobs,
        bills,
        settlement,
        platform.reconcile,
        store,
        audit,
    )
    settlement.install_jobs()
    day_close.install_jobs()
    platform.sweeps.append(day_close.ensure_scheduled)
    # The gateway answered "no bill" until now: this feature owns the method.
    services["alipay_methods"].table[BILL_METHOD] = bill_url_method(bills)
    services.update(
        settlement=settlement,
        bills=bills,
        day_close=day_close,
        bank_reconciler=reconciler,
        settlement_store=store,
    )
