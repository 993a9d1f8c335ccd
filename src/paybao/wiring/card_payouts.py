"""Card payouts wiring: the service (its payout table joins the wallet's payout machinery and
its sweep), the reminder job, risk control's review of held transfers to cards, reconcile
checks, and the answer an idempotent REST call gets after a crash.

Needs the wallet (`wallet`, `users`, `sms`, `risk`, `idempotency`). Services land in
`platform.services`: "card_payouts", "repayment_cards", and "payout_watch" (the operators'
view of every kind of payout, withdrawals included).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from paybao.adapters.db.card_payout_checks import CARD_PAYOUT_CHECKS
from paybao.adapters.db.card_payout_store import SqlCardPayoutStore
from paybao.adapters.db.payout_watch_store import SqlPayoutWatchStore
from paybao.domain.card_payouts import CardPayout
from paybao.domain.withdrawal import WithdrawalFeePolicy
from paybao.services.card_payout_records import PREFIX, PayoutPolicy, payout_view
from paybao.services.card_payouts import CardPayoutService
from paybao.services.payout_watch import PayoutWatch
from paybao.services.repayment_cards import RepaymentCardService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform
    from paybao.settings import Settings


def install(platform: Platform) -> None:
    services = platform.services
    sms = services.get("sms")
    store, policy = SqlCardPayoutStore(), policy_from(platform.settings)
    payouts = CardPayoutService(
        db=platform.db,
        store=store,
        wallet=services["wallet"],
        users=services["users"],
        clock=platform.clock,
        policy=policy,
        answer_of=payout_answer,
    )
    cards = RepaymentCardService(
        db=platform.db,
        store=store,
        users=services["users"],
        jobs=platform.jobs,
        clock=platform.clock,
        policy=policy,
        sms=None if sms is None else sms.sender,
    )
    cards.install_jobs()
    # The wallet's payouts sweep (`send_due`) sends due card payouts with its withdrawals.
    platform.reconcile.checks.extend(CARD_PAYOUT_CHECKS)
    risk = services.get("risk")
    if risk is not None:
        risk.held_by_prefix[PREFIX] = payouts
    idempotency = services.get("idempotency")
    if idempotency is not None:
        idempotency.renderers[PREFIX] = _renderer(payouts)
    watch = PayoutWatch(
        platform.db,
        SqlPayoutWatchStore(),
        services["wallet"].payouts,
        platform.jobs,
        platform.clock,
        services["audit"],
    )
    services.update(card_payouts=payouts, repayment_cards=cards, payout_watch=watch)


def policy_from(settings: Settings) -> PayoutPolicy:
    return PayoutPolicy(
        repayment_fee=WithdrawalFeePolicy(
            free_quota_fen=settings.card_repayment_free_month_fen,
            fee_min_fen=settings.card_repayment_fee_min_fen,
        ),
        amount_fen_max=settings.card_payout_amount_fen_max,
    )


def payout_answer(payout: CardPayout) -> tuple[int, str]:
    """The REST answer of a payout, as `web/api_card_payouts.py` renders it."""
    return 200, json.dumps(dataclasses.asdict(payout), ensure_ascii=False)


def _renderer(payouts: CardPayoutService) -> Callable[[str], tuple[int, str]]:
    """After a crash between commit and answer, a retry gets the payout as it is now."""

    def render(reference: str) -> tuple[int, str]:
        _, payout_id = reference.split(":", 1)
        with payouts.db.read() as tx:
            row = payouts.store.payout(tx, int(payout_id))
        return payout_answer(payout_view(row))

    return render
