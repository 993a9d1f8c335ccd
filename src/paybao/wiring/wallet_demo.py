"""Demo wallet data: the demo user 13800000000 with a bound card at the sandbox bank."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select

from paybao.adapters.db.tables.wallet import sms_outbox
from paybao.domain.cards import generate_card_number
from paybao.domain.identity import generate_id_number

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

DEMO_PHONE = "13800000000"
DEMO_LOGIN_PASSWORD = "demo1234"  # noqa: S105 (published on purpose: sandbox demo)
DEMO_PAYMENT_PASSWORD = "258036"  # noqa: S105 (published on purpose)
DEMO_NAME = "张小宝"
DEMO_BALANCE_FEN = 1_000_00


def _last_code(platform: Platform, phone: str) -> str:
    with platform.engine.connect() as connection:
        text = connection.execute(
            select(sms_outbox.c.text)
            .where(sms_outbox.c.phone == phone)
            .order_by(sms_outbox.c.id.desc())
            .limit(1)
        ).scalar_one()
    return str(text).split("验证码 ")[1][:6]


def seed_demo_user(platform: Platform) -> Iterator[str]:
    services = platform.services
    if services["users"].find_by_phone(DEMO_PHONE) is None:
        rng = random.Random(20260101)
        registration = services["registration"]
        user_id = registration.start(DEMO_PHONE, DEMO_LOGIN_PASSWORD)
        registration.verify_phone(user_id, _last_code(platform, DEMO_PHONE))
        registration.set_payment_password(user_id, DEMO_PAYMENT_PASSWORD)
        id_number = generate_id_number(rng, birth_date=date(1990, 5, 17))
        registration.verify_identity(user_id, DEMO_NAME, id_number)
        card_number = generate_card_number(rng, "ICBC")
        card_id = registration.add_card(user_id, card_number, DEMO_NAME, DEMO_PHONE)
        registration.confirm_card(user_id, card_id, _last_code(platform, DEMO_PHONE))
        services["wallet"].top_up(user_id, card_id, DEMO_BALANCE_FEN, DEMO_PAYMENT_PASSWORD)
    yield (
        f"demo user: phone {DEMO_PHONE}, login password {DEMO_LOGIN_PASSWORD},"
        f" payment password {DEMO_PAYMENT_PASSWORD}"
    )
