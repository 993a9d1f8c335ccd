"""Helpers for the risk-control tests: funded users made through the services."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from paybao.bootstrap import Platform
from paybao.domain.cards import generate_card_number
from paybao.domain.identity import generate_id_number
from paybao.services.wallet_operations import Movement
from paybao.wiring.wallet_demo import _last_code

PIN = "246801"


@dataclass(frozen=True)
class Funded:
    user_id: int
    phone: str
    card_id: int


def funded_user(platform: Platform, phone: str, name: str, balance_fen: int = 0) -> Funded:
    """A registered, verified user with a bound card and `balance_fen` topped up."""
    services = platform.services
    rng = random.Random(phone)
    registration = services["registration"]
    user_id = registration.start(phone, "abc12345")
    registration.verify_phone(user_id, _last_code(platform, phone))
    registration.set_payment_password(user_id, PIN)
    registration.verify_identity(
        user_id, name, generate_id_number(rng, birth_date=date(1988, 3, 9))
    )
    card_id = registration.add_card(user_id, generate_card_number(rng, "ICBC"), name, phone)
    registration.confirm_card(user_id, card_id, _last_code(platform, phone))
    # Class III (face-to-face verified): large transfers are what risk control looks at.
    users = services["users"]
    platform.db.run(lambda tx: users.store.update(tx, user_id, account_class="III"))
    if balance_fen:
        services["wallet"].top_up(user_id, card_id, balance_fen, PIN)
    return Funded(user_id, phone, card_id)


def held_transfer(
    platform: Platform, amount_fen: int = 6_000_00
) -> tuple[Funded, Funded, Movement]:
    """A payer's instant transfer to a payee it never paid, large enough to be held."""
    payer = funded_user(platform, "13900139001", "王五", amount_fen + 1_000_00)
    payee = funded_user(platform, "13900139002", "赵六")
    movement = platform.services["wallet"].transfer(payer.user_id, payee.phone, amount_fen, PIN)
    assert movement.status == "pending", movement
    return payer, payee, movement
