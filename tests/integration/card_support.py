"""Helpers for tests of card-funded trades: a buyer with a bound card, a trade paid with it."""

from __future__ import annotations

from tests.integration.gateway_support import APP_ID
from tests.integration.test_wallet_rules import PIN, open_user

from paybao.bootstrap import Platform
from paybao.domain.trades import Funding
from paybao.services.trades import NewTrade, Trade

CardBuyer = tuple[int, int, str]  # user id, card id, card number


def card_buyer(platform: Platform, phone: str = "13900000301") -> CardBuyer:
    """A registered buyer with an empty wallet and a bound card (the sandbox bank opens it with
    10,000 yuan on it)."""
    user_id, card_id = open_user(platform, phone)
    (card,) = platform.services["card_pay"].cards_of(user_id)
    assert card.id == card_id
    return user_id, card_id, card.card_number


def card_paid(
    platform: Platform, buyer: CardBuyer, out_trade_no: str = "K-1", total_fen: int = 100_00
) -> Trade:
    """A cashier trade of the shop with APP_ID that the buyer pays with the bound card (the
    bank says yes)."""
    new = NewTrade(
        app_id=APP_ID,
        out_trade_no=out_trade_no,
        product="FAST_INSTANT_TRADE_PAY",
        subject=f"卡支付 {out_trade_no}",
        total_fen=total_fen,
        fingerprint=out_trade_no,
    )
    trade = platform.services["trades"].create(new)
    user_id, card_id, _ = buyer
    payment = platform.services["card_pay"].pay(trade.trade_no, user_id, card_id, PIN)
    assert payment.status == "paid", payment
    paid: Trade = platform.services["trades"].get(trade.trade_no)
    assert paid.funding is Funding.CARD
    return paid


def card_balance(platform: Platform, card_number: str) -> int:
    balance = platform.services["bank"].card_balance_fen(card_number)
    assert balance is not None
    return int(balance)
