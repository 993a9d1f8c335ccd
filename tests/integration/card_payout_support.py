"""Helpers for the card payout tests: funded users made through the services, cards at the
sandbox bank, and moving the sandbox clock to a China time."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import update
from tests.integration.risk_support import PIN, Funded
from tests.integration.risk_support import funded_user as _registered_user

from paybao.adapters.db.tables.bank import bank_card_accounts
from paybao.adapters.db.tables.wallet import users
from paybao.bootstrap import Platform
from paybao.domain.account_class import CHINA_TZ
from paybao.domain.bins import CardType
from paybao.domain.cards import generate_card_number
from paybao.domain.errors import DomainError
from paybao.services.clock import datetime_from_us, us_from_datetime

__all__ = ["PIN", "Funded"]


def funded_user(platform: Platform, phone: str, name: str, balance_fen: int = 0) -> Funded:
    """A registered, real-name user (class III) with a bound debit card, and `balance_fen`
    in the wallet, topped up from that card (the person first pays the money in at the bank:
    a sandbox card opens with 10,000.00 only)."""
    person = _registered_user(platform, phone, name)
    if balance_fen:
        with platform.engine.begin() as connection:
            connection.execute(
                update(bank_card_accounts)
                .where(bank_card_accounts.c.card_number == bound_card_number(platform, person))
                .values(balance_fen=bank_card_accounts.c.balance_fen + balance_fen)
            )
        topped = platform.services["wallet"].top_up(
            person.user_id, person.card_id, balance_fen, PIN
        )
        assert topped.status == "succeeded", topped
    return person


def bound_card_number(platform: Platform, person: Funded) -> str:
    with platform.db.read() as tx:
        card = platform.services["wallet"].cards.get(tx, person.card_id)
    return str(card.card_number)


def credit_card(platform: Platform, holder: str, seed: str, bank_code: str = "CMB") -> str:
    """A credit card the sandbox bank holds in `holder`'s name."""
    number = generate_card_number(random.Random(seed), bank_code, card_type=CardType.CREDIT)
    platform.services["bank"].open_card(number, bank_code, holder, "", "", balance_fen=0)
    return number


def unknown_debit_card(seed: str, bank_code: str = "CCB") -> str:
    """A valid debit card number the sandbox bank has never seen."""
    return generate_card_number(random.Random(seed), bank_code)


def card_balance(platform: Platform, number: str) -> int | None:
    balance: int | None = platform.services["bank"].card_balance_fen(number)
    return balance


def quota_used(platform: Platform, user_id: int) -> int:
    with platform.db.read() as tx:
        used = tx.execute(
            users.select()
            .with_only_columns(users.c.withdraw_quota_used_fen)
            .where(users.c.id == user_id)
        ).scalar_one()
    return int(used)


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def china_now(platform: Platform) -> datetime:
    return datetime_from_us(platform.clock.now_us()).astimezone(CHINA_TZ)


def move_to(platform: Platform, at: datetime) -> None:
    """Advance the sandbox clock to `at` (aware, ahead of now), running what falls due."""
    delta_us = us_from_datetime(at) - platform.clock.now_us()
    assert delta_us > 0, f"{at} is not ahead of now"
    platform.sandbox_clock.advance((delta_us + 999_999) // 1_000_000)


def month_end(platform: Platform, hour: int = 23) -> datetime:
    """The last day of this China month (or the next one, if that hour has passed) at `hour`."""
    now = china_now(platform)
    for months_ahead in (0, 1):
        year, month = now.year, now.month + months_ahead
        if month > 12:
            year, month = year + 1, 1
        first_next = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CHINA_TZ)
        last = first_next.replace(day=1).toordinal() - 1
        day = datetime.fromordinal(last).replace(tzinfo=CHINA_TZ)
        at = day.replace(hour=hour)
        if at > now:
            return at
    raise AssertionError("unreachable")
