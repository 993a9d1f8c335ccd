"""Demo data: the demo user gets a Huabei line, so the cashier offers credit out of the box."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from paybao.wiring.wallet_demo import DEMO_PHONE

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

DEMO_CREDIT_LIMIT_FEN = 5_000_00


def seed_demo_credit_line(platform: Platform) -> Iterator[str]:
    user = platform.services["users"].find_by_phone(DEMO_PHONE)
    credit = platform.services["credit"]
    if user is not None and credit.line_or_none(user.id) is None:
        credit.grant(user.id, DEMO_CREDIT_LIMIT_FEN, reason="demo data", actor="demo")
    yield f"demo user: Huabei line of {DEMO_CREDIT_LIMIT_FEN // 100} CNY"
