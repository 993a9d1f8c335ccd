"""Demo card payout data: a credit card of the demo user's at the sandbox bank, saved for
repayment with a reminder on the 10th (the demo user's debit card is bound by the wallet's
seed; another user's bound card can be paid with a transfer to a card)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING

from paybao.domain.bins import CardType
from paybao.domain.cards import generate_card_number
from paybao.wiring.wallet_demo import DEMO_NAME, DEMO_PHONE

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

DEMO_CREDIT_BANK = "CMB"
DEMO_REMIND_DAY = 10


def seed_demo_credit_card(platform: Platform) -> Iterator[str]:
    services = platform.services
    user = services["users"].find_by_phone(DEMO_PHONE)
    if user is None:
        return
    number = generate_card_number(
        random.Random(20260102), DEMO_CREDIT_BANK, card_type=CardType.CREDIT
    )
    # The bank leaves an existing card as it is: the seed runs any number of times.
    services["bank"].open_card(number, DEMO_CREDIT_BANK, DEMO_NAME, "", DEMO_PHONE, balance_fen=0)
    services["repayment_cards"].save_card(user.id, number, DEMO_REMIND_DAY)
    yield f"demo credit card (repay it at /wallet/card-repayment): {number}"
