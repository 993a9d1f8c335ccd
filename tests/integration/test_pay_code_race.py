"""`alipay.trade.pay` skips its in-transaction look-up of the order number when the caller has
just read that no trade has it. If a trade appeared in between, the payment must behave as if
the look-up had run: the first trade answers, and the buyer's code is not spent."""

from __future__ import annotations

from gateway_support import APP_ID, make_buyer, make_shop, wallet_balance

from paybao.bootstrap import Platform
from paybao.domain.trades import TradeStatus
from paybao.services.trades import NewTrade


def order(out_trade_no: str, total_fen: int = 12_00) -> NewTrade:
    return NewTrade(
        app_id=APP_ID,
        out_trade_no=out_trade_no,
        product="FACE_TO_FACE_PAYMENT",
        subject="race",
        total_fen=total_fen,
        fingerprint=f"{out_trade_no}:{total_fen}",
    )


def test_a_trade_that_appeared_meanwhile_answers_and_the_code_is_not_spent(
    platform: Platform,
) -> None:
    make_shop(platform)
    trades = platform.services["trades"]
    buyer = make_buyer(platform, balance_fen=100_00)
    first = trades.pay_with_code(order("race-1"), trades.issue_auth_code(buyer))
    assert first.status is TradeStatus.TRADE_SUCCESS
    code = trades.issue_auth_code(buyer)
    # The caller believed the number free (it read before `first` committed, say).
    again = trades.pay_with_code(order("race-1"), code, known_absent=True)
    assert again.trade_no == first.trade_no
    assert wallet_balance(platform, buyer) == 100_00 - 12_00  # paid once
    second = trades.pay_with_code(order("race-2"), code, known_absent=True)
    assert second.status is TradeStatus.TRADE_SUCCESS  # the code was still good
    assert wallet_balance(platform, buyer) == 100_00 - 24_00
