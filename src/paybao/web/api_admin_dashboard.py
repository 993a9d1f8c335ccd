"""REST for operators: the dashboard, as the console's /admin/dashboard shows it
(services/dashboard.py; web/pages_admin_dashboard.py). Every role may read it.

- `GET /api/v1/admin/dashboard?days=N`: the last N Beijing days (1..90, default 30; else 400
  `dashboard_days_invalid`), per day (oldest first) and in total. Amounts are fen; rates are
  fractions as decimal strings rounded half up to 0.0001 ("0.1471" is 14.71 %). The total's
  payers and merchants are distinct over the window, not the sum of the days.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from paybao.domain.dashboard import DAYS_DEFAULT
from paybao.services.dashboard import DashboardService, Figures, Sum
from paybao.web.api_admin_support import Admin, admin_router

router = admin_router("/dashboard", "admin: dashboard")


class SumOut(BaseModel):
    count: int
    amount_fen: int


class FiguresOut(BaseModel):
    day: str | None  # None: the window's total
    scenes: dict[str, SumOut]  # till | qr | cashier | withholding | preauth | parking | ...
    payments: SumOut
    payers: int
    merchants: int
    flows: dict[str, SumOut]  # topups | transfers | withdrawals
    red_packets: SumOut
    refunds: SumOut
    refund_rate: str
    risk: dict[str, SumOut]  # delay | challenge | reject (a pass is not recorded)
    held_returned: SumOut  # delayed transfers an operator returned to the payer
    fraud_loss: SumOut  # escrow disputes an operator ruled for the buyer
    fraud_loss_rate: str
    subsidy_fen: int  # platform coupon discounts less what refunds took back


class DashboardOut(BaseModel):
    first_day: str
    last_day: str
    days: int
    per_day: list[FiguresOut]
    total: FiguresOut


def _sum(s: Sum) -> SumOut:
    return SumOut(count=s.count, amount_fen=s.fen)


def _figures(f: Figures) -> FiguresOut:
    return FiguresOut(
        day=f.day.isoformat() if f.day else None,
        scenes={str(k): _sum(v) for k, v in f.scenes.items()},
        payments=_sum(f.payments),
        payers=f.payers,
        merchants=f.merchants,
        flows={k: _sum(v) for k, v in f.flows.items()},
        red_packets=_sum(f.red_packets),
        refunds=_sum(f.refunds),
        refund_rate=str(f.refund_rate),
        risk={k: _sum(v) for k, v in f.risk.items()},
        held_returned=_sum(f.held_returned),
        fraud_loss=_sum(f.fraud_loss),
        fraud_loss_rate=str(f.fraud_loss_rate),
        subsidy_fen=f.subsidy_fen,
    )


@router.get("", response_model=DashboardOut)
def dashboard(platform: Admin, days: int = DAYS_DEFAULT) -> DashboardOut:
    # The range is checked by the service (400 dashboard_days_invalid), as on the page.
    service: DashboardService = platform.services["dashboard"]
    board = service.overview(days)
    return DashboardOut(
        first_day=board.window.first_day.isoformat(),
        last_day=board.window.last_day.isoformat(),
        days=board.window.days,
        per_day=[_figures(f) for f in board.days],
        total=_figures(board.total),
    )


def install(app: Any) -> None:
    app.include_router(router)
