"""The operators' dashboard on a known set of rows: every figure, the window's edges and an
empty window (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from tests.integration.dashboard_support import DAYS, NOW_US, at_us, seed

from paybao.adapters.db.dashboard_queries import SqlDashboardQueries
from paybao.adapters.db.tables.billpay import billers, billpay_payments
from paybao.bootstrap import Platform
from paybao.domain.dashboard import DashboardDaysInvalid, Scene
from paybao.services.clock import ManualClock
from paybao.services.dashboard import Dashboard, DashboardService, Sum


def _overview(platform: Platform, now_us: int = NOW_US, days: int = DAYS) -> Dashboard:
    service = DashboardService(platform.db, SqlDashboardQueries(), ManualClock(now_us))
    return service.overview(days)


def _pairs(sums: dict[Scene, Sum] | dict[str, Sum]) -> dict[str, tuple[int, int]]:
    return {str(k): (v.count, v.fen) for k, v in sums.items() if v.count}


def test_every_figure_of_a_known_window(platform: Platform) -> None:
    seed(platform.engine)
    board = _overview(platform)

    assert board.window.first_day == date(2026, 5, 8)
    assert board.window.last_day == date(2026, 5, 10)
    assert [f.day for f in board.days] == [date(2026, 5, d) for d in (8, 9, 10)]
    total = board.total
    assert _pairs(total.scenes) == {
        "till": (1, 10000),
        "qr": (2, 2700),  # precreate and the static code at 23:59:59 of the last day
        "cashier": (1, 3000),
        "transit": (1, 200),
        "withholding": (1, 1500),
        "parking": (1, 800),
        "preauth": (1, 5000),
        "escrow": (1, 4000),
    }
    assert (total.payments.count, total.payments.fen) == (9, 27200)
    assert (total.payers, total.merchants) == (6, 5)
    assert [(f.payers, f.merchants) for f in board.days] == [(2, 2), (5, 4), (1, 1)]
    assert [f.payments.fen for f in board.days] == [12000, 14500, 700]
    assert _pairs(total.flows) == {
        "topups": (2, 300),
        "transfers": (2, 800),
        "withdrawals": (1, 1000),
    }
    assert (total.red_packets.count, total.red_packets.fen) == (1, 888)
    # two trade refunds and the escrow trade's ruled refund
    assert (total.refunds.count, total.refunds.fen) == (3, 4000)
    assert [f.refunds.fen for f in board.days] == [2000, 0, 2000]
    assert total.refund_rate == Decimal("0.1471")  # 4000 / 27200 = 0.14705...
    assert _pairs(total.risk) == {"delay": (1, 300), "challenge": (1, 5000), "reject": (1, 7000)}
    assert (total.held_returned.count, total.held_returned.fen) == (1, 300)
    assert (total.fraud_loss.count, total.fraud_loss.fen) == (1, 1000)
    assert total.fraud_loss_rate == Decimal("0.0368")  # 1000 / 27200 = 0.03676...
    assert board.days[2].fraud_loss_rate == Decimal("1.4286")  # 1000 / 700 on that day
    # coupons: 5.00 + 3.00 given, 0.50 + 0.75 taken back by refunds
    assert total.subsidy_fen == 675
    assert [f.subsidy_fen for f in board.days] == [500, 300, -125]


def test_a_window_of_one_day_counts_its_last_second_and_not_the_one_before(
    platform: Platform,
) -> None:
    seed(platform.engine)
    board = _overview(platform, now_us=at_us(10, 0), days=1)

    assert board.window.start_us == at_us(10, 0)
    assert board.window.end_us == at_us(11, 0)
    assert _pairs(board.total.scenes) == {"qr": (1, 700)}
    assert (board.total.payers, board.total.merchants) == (1, 1)


def test_a_window_before_the_seed_starts_after_the_second_before(platform: Platform) -> None:
    seed(platform.engine)
    board = _overview(platform, now_us=at_us(8, 0), days=1)  # 05-08 only

    assert _pairs(board.total.scenes) == {"till": (1, 10000), "qr": (1, 2000)}
    assert (board.total.refunds.count, board.total.refunds.fen) == (1, 2000)


def test_an_empty_window_is_all_zero(platform: Platform) -> None:
    seed(platform.engine)
    board = _overview(platform, now_us=at_us(10, 12) + 400 * 86_400_000_000, days=90)

    assert len(board.days) == 90
    total = board.total
    assert total.payments == Sum(0, 0)
    assert (total.payers, total.merchants, total.subsidy_fen) == (0, 0, 0)
    assert total.refund_rate == Decimal(0) and total.fraud_loss_rate == Decimal(0)
    assert not _pairs(total.flows) and not _pairs(total.risk)


@pytest.mark.parametrize("days", [0, 91, -1])
def test_days_out_of_range_are_refused(platform: Platform, days: int) -> None:
    with pytest.raises(DashboardDaysInvalid):
        _overview(platform, days=days)


def _bill(
    user: int, biller: int, amount_fen: int, status: str, finished_us: int | None
) -> dict[str, Any]:
    return {
        "user_id": user,
        "kind": "bill" if biller == 2 else "topup",
        "biller_id": biller,
        "account_no": "13800000000",
        "period": "2026-05",
        "amount_fen": amount_fen,
        "holder_masked": "*明",
        "status": status,
        "created_at_us": (finished_us or NOW_US) - 1,
        "finished_at_us": finished_us,
    }


def test_bills_and_top_ups_are_a_scene_of_their_own(platform: Platform) -> None:
    seed(platform.engine)
    with platform.engine.begin() as connection:
        for biller_id, merchant_id in ((1, 7), (2, 1)):  # merchant 1 is paid by a trade too
            connection.execute(
                billers.insert().values(
                    id=biller_id,
                    code=f"B{biller_id}",
                    name="biller",
                    category="water",
                    city="national",
                    merchant_id=merchant_id,
                    status="active",
                    created_at_us=0,
                    updated_at_us=0,
                )
            )
        for row in (
            _bill(101, 2, 8000, "paid", at_us(9, 10)),  # a payer and merchant of that day already
            _bill(108, 1, 5000, "paid", at_us(10, 9)),  # a new payer, a new merchant
            _bill(109, 1, 3000, "failed", at_us(9, 11)),  # refused: the hold went back
            _bill(109, 1, 4000, "processing", None),  # money held, not confirmed yet
            _bill(109, 1, 9900, "paid", at_us(7, 23, 59, 59)),  # the second before the window
        ):
            connection.execute(billpay_payments.insert().values(row))

    board = _overview(platform)

    total = board.total
    assert _pairs(total.scenes)["billpay"] == (2, 13000)
    assert (total.payments.count, total.payments.fen) == (9 + 2, 27200 + 13000)
    assert (total.payers, total.merchants) == (7, 6)
    assert [(f.payers, f.merchants) for f in board.days] == [(2, 2), (5, 4), (2, 2)]
    assert [f.payments.fen for f in board.days] == [12000, 14500 + 8000, 700 + 5000]
