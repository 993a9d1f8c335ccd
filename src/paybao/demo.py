"""Demo data for `make run` and `paybao demo`. Every seed is idempotent (keys, not counts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from paybao.bootstrap import Platform
from paybao.demo_gateway import seed_demo_merchant
from paybao.wiring.billpay_demo import seed_demo_billers
from paybao.wiring.card_payouts_demo import seed_demo_credit_card
from paybao.wiring.credit_demo import seed_demo_credit_line
from paybao.wiring.parking_demo import seed_demo_parking_lot
from paybao.wiring.transit_demo import seed_demo_metro
from paybao.wiring.wallet_demo import seed_demo_user


def seed_platform_accounts(platform: Platform) -> Iterator[str]:
    ids = platform.ledger.open_platform_accounts()
    yield f"platform accounts: {len(ids)}"


# Features append their seeds (users, merchants, cards); they run in this order.
SEEDS: list[Callable[[Platform], Iterator[str]]] = [
    seed_platform_accounts,
    seed_demo_user,
    seed_demo_merchant,
    seed_demo_billers,
    seed_demo_credit_card,
    seed_demo_credit_line,
    seed_demo_parking_lot,
    seed_demo_metro,
]


def seed(platform: Platform) -> Iterator[str]:
    for step in SEEDS:
        yield from step(platform)
