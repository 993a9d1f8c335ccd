"""Helpers for the city-services tests: billers, account numbers that owe, the sandbox biller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.integration.gateway_support import make_buyer

from paybao.adapters.billers.sandbox import SandboxBillers, billed_fen
from paybao.bootstrap import Platform
from paybao.domain.billpay import Category, china_month
from paybao.services.billpay import BillpayService
from paybao.services.billpay_billers import NewBiller
from paybao.services.billpay_records import Biller

# Water in Shanghai owes this account something this month (ends in neither 0 nor 9).
WATER_ACCOUNT = "31001234567"
UNKNOWN_ACCOUNT = "31001234560"  # ends in 0: the sandbox knows no such account
PAID_UP_ACCOUNT = "31001234569"  # ends in 9: owes nothing this month


@dataclass
class City:
    water: Biller
    power: Biller
    gas: Biller
    cmcc: Biller
    ctcc: Biller


def make_billers(platform: Platform) -> City:
    create = platform.services["billers"].create
    return City(
        water=create(NewBiller("sh_water", "上海城投水务", "water", "shanghai"), actor="test"),
        power=create(NewBiller("sh_power", "国网上海电力", "electricity", "shanghai"), actor="t"),
        gas=create(NewBiller("bj_gas", "北京燃气", "gas", "beijing"), actor="test"),
        cmcc=create(NewBiller("cmcc", "中国移动", "mobile"), actor="test"),
        ctcc=create(NewBiller("ctcc", "中国电信", "mobile"), actor="test"),
    )


def owed_fen(platform: Platform, biller: Biller, account_no: str) -> int:
    """What the sandbox bills the account this month (before payments)."""
    period = china_month(platform.clock.now())
    return billed_fen(biller.code, Category(biller.category), account_no, period)


def billpay(platform: Platform) -> BillpayService:
    service: BillpayService = platform.services["billpay"]
    return service


def sandbox(platform: Platform) -> SandboxBillers:
    found: SandboxBillers = platform.services["sandbox_billers"]
    return found


def payer(platform: Platform, phone: str = "13800138500", balance_fen: int = 5_000_00) -> int:
    return make_buyer(platform, phone, balance_fen=balance_fen)


def settlement_fen(platform: Platform, biller: Biller) -> int:
    merchant = platform.services["merchants"].merchant(biller.merchant_id)
    return int(platform.ledger.balance(merchant.settlement_account_id).balance_fen)


def assert_clean(platform: Platform) -> Any:
    report = platform.reconcile.run()
    assert report.differences == [], [d.line() for d in report.differences]
    assert "billpay.payments_match_holds" in report.checks_run
    return report
