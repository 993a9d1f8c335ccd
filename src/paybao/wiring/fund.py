"""Yu'e Bao wiring: the fund service, its daily pass (job and sweep), reconcile checks, and the
answer an idempotent REST call gets after a crash.

Needs the wallet (`users`, `devices`, `idempotency`) and operations (`audit`). Services land in
`platform.services`: "fund", "fund_days".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from paybao.adapters.db.fund_checks import FUND_CHECKS
from paybao.adapters.db.fund_store import SqlFundStore
from paybao.domain.fund import TradingCalendar, parse_holidays
from paybao.domain.money import format_yuan
from paybao.services.clock import datetime_from_us
from paybao.services.fund import FundService
from paybao.services.fund_days import FundDays
from paybao.services.fund_records import FundOrder, FundPolicy

if TYPE_CHECKING:
    from paybao.bootstrap import Platform
    from paybao.settings import Settings

RENDER_PREFIX = "fund_order"


def install(platform: Platform) -> None:
    services = platform.services
    store = SqlFundStore(platform.db.dialect)
    fund = FundService(
        db=platform.db,
        store=store,
        ledger=platform.ledger,
        users=services["users"],
        clock=platform.clock,
        jobs=platform.jobs,
        policy=policy_from(platform.settings),
        devices=services.get("devices"),
        idempotency=services.get("idempotency"),
        audit=services.get("audit"),
    )
    days = FundDays(fund, store)
    days.install_jobs()
    platform.sweeps.append(days.ensure_started)
    platform.reconcile.checks.extend(FUND_CHECKS)
    idempotency = services.get("idempotency")
    if idempotency is not None:
        idempotency.renderers[RENDER_PREFIX] = _renderer(fund)
    services.update(fund=fund, fund_days=days)


def policy_from(settings: Settings) -> FundPolicy:
    calendar = TradingCalendar(
        holidays=parse_holidays(settings.fund_holidays), cutoff_s=settings.fund_cutoff_s
    )
    return FundPolicy(
        calendar=calendar,
        fast_redeem_daily_fen=settings.fund_fast_redeem_daily_fen,
        per_10k_default_e4=settings.fund_income_per_10k_default_e4,
    )


def order_answer(order: FundOrder) -> dict[str, Any]:
    """The REST answer of a transfer in or out (web/api_fund.py answers the same)."""
    return {
        "id": order.id,
        "kind": str(order.kind),
        "status": str(order.status),
        "amount_fen": order.amount_fen,
        "amount": format_yuan(order.amount_fen),
        "trade_date": order.trade_date.isoformat(),
        "settle_date": order.settle_date.isoformat() if order.settle_date else None,
        "created_at": datetime_from_us(order.created_at_us).isoformat(),
        "finished_at": None
        if order.finished_at_us is None
        else datetime_from_us(order.finished_at_us).isoformat(),
    }


def _renderer(fund: FundService) -> Callable[[str], tuple[int, str]]:
    """After a crash between commit and answer, a retry gets the order as it is now."""

    def render(reference: str) -> tuple[int, str]:
        _, order_id = reference.split(":", 1)
        answer = order_answer(fund.order(int(order_id)))
        return 200, json.dumps(answer, ensure_ascii=False)

    return render
