"""Paid trades are finished by a sweep once their refund window has passed (no job per trade).

The sweep finishes only due trades, oldest payment first, a batch per transaction; it is
idempotent, announces each finish once (`notify_on_finish`), and two sweeps racing finish each
trade once. Finish jobs scheduled before the sweep existed still run, and do nothing once the
sweep has finished their trade.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from gateway_support import APP_ID, make_buyer, make_shop
from sqlalchemy import text
from tests.support.races import at_once

from paybao.bootstrap import Platform, build_platform
from paybao.domain.trades import TradeStatus
from paybao.services.clock import US_PER_S
from paybao.services.trades import JOB_FINISH, NewTrade, Trade, TradeRef
from paybao.settings import Settings

DAY_S = 86_400
NOTIFY_URL = "http://127.0.0.1:9/notify"


@pytest.fixture
def notifying(settings: Settings) -> Iterator[Platform]:
    """A platform that announces finishes (`PAYBAO_NOTIFY_ON_FINISH=1`)."""
    built = build_platform(settings.model_copy(update={"notify_on_finish": True}))
    built.ledger.open_platform_accounts()
    yield built
    built.close()


def window_s(platform: Platform) -> int:
    return int(platform.services["trades"].settings.refund_window_s)


def move(platform: Platform, seconds: int) -> None:
    """Platform time forward WITHOUT running sweeps or jobs (the sandbox clock's advance runs
    both), so that each test decides when the sweep runs."""
    clock = platform.clock
    clock.set_offset_us(clock.offset_us(fresh=True) + seconds * US_PER_S)
    # Read the new offset now: right after a move, a thread that finds another refreshing the
    # cached offset goes on with the old one (adapters/clock.py), and the racers start at once.
    clock.offset_us(fresh=True)


def pay_trades(platform: Platform, buyer: int, prefix: str, count: int) -> list[Trade]:
    trades = platform.services["trades"]
    paid = []
    for i in range(count):
        order = NewTrade(
            app_id=APP_ID,
            out_trade_no=f"{prefix}-{i}",
            product="FACE_TO_FACE_PAYMENT",
            subject="finish",
            total_fen=1_00,
            fingerprint=f"{prefix}-{i}",
            notify_url=NOTIFY_URL,
        )
        paid.append(trades.pay_with_code(order, trades.issue_auth_code(buyer)))
    assert all(trade.status is TradeStatus.TRADE_SUCCESS for trade in paid)
    return paid


def status_of(platform: Platform, trade: Trade) -> TradeStatus:
    status: TradeStatus = platform.services["trades"].get(trade.trade_no).status
    return status


def finish_notices(platform: Platform) -> dict[int, list[str]]:
    """Per trade id, the status in each of its `finish` notifications' snapshots."""
    with platform.db.read() as tx:
        rows = tx.execute(
            text("SELECT trade_id, snapshot FROM trade_notifications WHERE event = 'finish'")
        ).all()
    notices: dict[int, list[str]] = {}
    for trade_id, snapshot in rows:
        notices.setdefault(int(trade_id), []).append(json.loads(snapshot)["status"])
    return notices


def finish_jobs(platform: Platform) -> int:
    with platform.db.read() as tx:
        query = text("SELECT COUNT(*) FROM jobs WHERE kind = :kind")
        return int(tx.execute(query, {"kind": JOB_FINISH}).scalar_one())


class BatchSpy:
    """The trade store, recording what each batch of the sweep found."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.batches: list[list[int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def trade_ids_to_finish(self, tx: Any, paid_until_us: int, limit: int) -> list[int]:
        found: list[int] = self.store.trade_ids_to_finish(tx, paid_until_us, limit)
        self.batches.append(found)
        return found


class Rendezvous(BatchSpy):
    """On PostgreSQL, the first batch of each of two sweepers waits, between finding its
    trades and finishing them, until the other has found its own: both transactions are open
    at once, whatever the thread scheduling. (On SQLite a write transaction excludes every
    other one, so the sweepers cannot overlap; they race only for the write lock.)"""

    def __init__(self, store: Any, *, meet: bool) -> None:
        super().__init__(store)
        self.meet = meet
        self.barrier = threading.Barrier(2, timeout=60)
        self.lock = threading.Lock()

    def trade_ids_to_finish(self, tx: Any, paid_until_us: int, limit: int) -> list[int]:
        found = super().trade_ids_to_finish(tx, paid_until_us, limit)
        with self.lock:
            first_two = len(self.batches) <= 2
        if self.meet and first_two:
            self.barrier.wait()
        return found


def ids(trades: Sequence[Trade]) -> list[int]:
    return [trade.id for trade in trades]


def test_the_sweep_finishes_only_due_trades_in_batches_once_each(notifying: Platform) -> None:
    platform = notifying
    make_shop(platform, notify_url=NOTIFY_URL)
    service = platform.services["trades"]
    buyer = make_buyer(platform, balance_fen=100_00)
    old = pay_trades(platform, buyer, "old", 5)
    move(platform, 10 * DAY_S)
    young = pay_trades(platform, buyer, "young", 2)
    unpaid = service.create(NewTrade(APP_ID, "unpaid", "FACE_TO_FACE_PAYMENT", "s", 1_00, "u"))
    assert finish_jobs(platform) == 0  # a payment schedules no finish timer any more
    spy = BatchSpy(service.store)
    service.store = spy

    move(platform, window_s(platform) - 11 * DAY_S)  # a day before the old ones' window ends
    assert service.finish_due(batch_size=2) == 0
    assert spy.batches == [[]]
    move(platform, DAY_S + 1)  # past the end of the old ones' window, not the young ones'
    spy.batches.clear()
    finished = service.finish_due(batch_size=2)

    assert finished == 5
    # Oldest payment first, two a transaction; the short third batch is the last.
    assert spy.batches == [ids(old[0:2]), ids(old[2:4]), ids(old[4:5])]
    assert [status_of(platform, t) for t in old] == [TradeStatus.TRADE_FINISHED] * 5
    assert [status_of(platform, t) for t in young] == [TradeStatus.TRADE_SUCCESS] * 2
    assert status_of(platform, unpaid) is TradeStatus.WAIT_BUYER_PAY
    now_us = platform.clock.now_us()
    for trade in old:
        done = service.get(trade.trade_no)
        assert trade.paid_at_us is not None and done.finished_at_us is not None
        assert trade.paid_at_us + window_s(platform) * US_PER_S <= done.finished_at_us <= now_us
    assert finish_notices(platform) == {t.id: ["TRADE_FINISHED"] for t in old}

    # Idempotent: nothing is due again, nothing is announced again.
    assert service.finish_due(batch_size=2) == 0
    assert service.finish_due() == 0
    assert finish_notices(platform) == {t.id: ["TRADE_FINISHED"] for t in old}

    move(platform, 10 * DAY_S)  # now the young ones' windows have closed too
    assert service.finish_due() == 2
    assert [status_of(platform, t) for t in young] == [TradeStatus.TRADE_FINISHED] * 2
    assert finish_notices(platform) == {t.id: ["TRADE_FINISHED"] for t in old + young}
    assert platform.reconcile.run().clean


def test_without_notify_on_finish_the_sweep_announces_nothing(platform: Platform) -> None:
    make_shop(platform, notify_url=NOTIFY_URL)
    buyer = make_buyer(platform, balance_fen=100_00)
    paid = pay_trades(platform, buyer, "quiet", 2)
    move(platform, window_s(platform) + 1)

    assert platform.services["trades"].finish_due() == 2
    assert [status_of(platform, t) for t in paid] == [TradeStatus.TRADE_FINISHED] * 2
    assert finish_notices(platform) == {}


def test_the_worker_and_the_sandbox_clock_run_the_sweep(platform: Platform) -> None:
    make_shop(platform, notify_url=NOTIFY_URL)
    buyer = make_buyer(platform, balance_fen=100_00)
    paid = pay_trades(platform, buyer, "swept", 1)
    assert platform.services["trades"].finish_due in platform.sweeps

    report = platform.sandbox_clock.advance(window_s(platform) + 1)

    assert report.swept >= 1
    assert status_of(platform, paid[0]) is TradeStatus.TRADE_FINISHED


def test_a_trade_closed_by_a_full_refund_is_not_finished(platform: Platform) -> None:
    make_shop(platform, notify_url=NOTIFY_URL)
    buyer = make_buyer(platform, balance_fen=100_00)
    kept, refunded = pay_trades(platform, buyer, "refund", 2)
    platform.services["refunds"].refund(
        APP_ID, TradeRef(trade_no=refunded.trade_no), "all", refunded.total_fen
    )
    assert status_of(platform, refunded) is TradeStatus.TRADE_CLOSED
    move(platform, window_s(platform) + 1)

    assert platform.services["trades"].finish_due() == 1
    assert status_of(platform, kept) is TradeStatus.TRADE_FINISHED
    assert status_of(platform, refunded) is TradeStatus.TRADE_CLOSED


def test_two_sweeps_at_once_finish_each_trade_once(notifying: Platform) -> None:
    platform = notifying
    make_shop(platform, notify_url=NOTIFY_URL)
    buyer = make_buyer(platform, balance_fen=100_00)
    paid = pay_trades(platform, buyer, "race", 12)
    move(platform, window_s(platform) + 1)
    service = platform.services["trades"]
    postgres = platform.db.dialect == "postgresql"
    service.store = spy = Rendezvous(service.store, meet=postgres)

    results = at_once([lambda: service.finish_due(batch_size=5)] * 2)

    assert all(isinstance(result, int) for result in results), results
    assert sum(int(result) for result in results) == 12
    assert [status_of(platform, t) for t in paid] == [TradeStatus.TRADE_FINISHED] * 12
    assert finish_notices(platform) == {t.id: ["TRADE_FINISHED"] for t in paid}
    assert service.finish_due() == 0
    if postgres:
        # Both found trades while the other held its own: different ones (SKIP LOCKED).
        first, second = spy.batches[0], spy.batches[1]
        assert len(first) == len(second) == 5 and not set(first) & set(second), spy.batches


def test_finishing_is_a_compare_and_set_a_finished_trade_is_not_matched_again(
    platform: Platform,
) -> None:
    make_shop(platform, notify_url=NOTIFY_URL)
    buyer = make_buyer(platform, balance_fen=100_00)
    first, second = pay_trades(platform, buyer, "cas", 2)
    store = platform.services["trade_store"]
    now_us = platform.clock.now_us()

    won = platform.db.run(lambda tx: store.finish_trades(tx, [first.id], now_us))
    # A sweeper that read both as due before the first was finished: only the second changes.
    late = platform.db.run(lambda tx: store.finish_trades(tx, [first.id, second.id], now_us + 1))

    assert [(t.id, t.status, t.finished_at_us) for t in won] == [
        (first.id, TradeStatus.TRADE_FINISHED, now_us)
    ]
    assert [(t.id, t.status, t.finished_at_us) for t in late] == [
        (second.id, TradeStatus.TRADE_FINISHED, now_us + 1)
    ]
    assert platform.services["trades"].get(first.trade_no).finished_at_us == now_us


def _schedule_old_finish_job(platform: Platform, trade: Trade, window_s_then: int = 0) -> None:
    """What a payment did before the sweep: a finish job due when the window closes (the
    window of the settings of then, by default today's)."""
    assert trade.paid_at_us is not None
    due_us = trade.paid_at_us + (window_s_then or window_s(platform)) * US_PER_S
    platform.db.run(lambda tx: platform.jobs.schedule_in(tx, JOB_FINISH, trade.trade_no, due_us))


def test_an_old_pending_finish_job_still_finishes_its_trade(notifying: Platform) -> None:
    platform = notifying
    make_shop(platform, notify_url=NOTIFY_URL)
    buyer = make_buyer(platform, balance_fen=100_00)
    first, second = pay_trades(platform, buyer, "job", 2)
    _schedule_old_finish_job(platform, first)
    _schedule_old_finish_job(platform, second)
    move(platform, window_s(platform) - DAY_S)
    platform.jobs.run_due()  # not due yet
    assert status_of(platform, first) is TradeStatus.TRADE_SUCCESS
    move(platform, DAY_S + 1)

    # The job runs before any sweep: it finishes its trade, as it always did.
    ran = 0
    while (step := platform.jobs.run_due()) > 0:
        ran += step
    assert ran >= 2
    assert status_of(platform, first) is TradeStatus.TRADE_FINISHED
    assert status_of(platform, second) is TradeStatus.TRADE_FINISHED
    assert finish_jobs_pending(platform) == 0
    # The sweep finds nothing left, and nobody is told twice.
    assert platform.services["trades"].finish_due() == 0
    assert finish_notices(platform) == {t.id: ["TRADE_FINISHED"] for t in (first, second)}


def test_an_old_finish_job_after_the_sweep_does_nothing(notifying: Platform) -> None:
    platform = notifying
    make_shop(platform, notify_url=NOTIFY_URL)
    buyer = make_buyer(platform, balance_fen=100_00)
    (trade,) = pay_trades(platform, buyer, "after", 1)
    _schedule_old_finish_job(platform, trade)
    move(platform, window_s(platform) + 1)

    assert platform.services["trades"].finish_due() == 1
    finished_at_us = platform.services["trades"].get(trade.trade_no).finished_at_us
    while platform.jobs.run_due() > 0:
        pass

    assert finish_jobs_pending(platform) == 0  # it ran (and did nothing)
    assert platform.services["trades"].get(trade.trade_no).finished_at_us == finished_at_us
    assert finish_notices(platform) == {trade.id: ["TRADE_FINISHED"]}


def test_an_old_finish_job_leaves_a_trade_whose_window_is_still_open(platform: Platform) -> None:
    """Scheduled when the window was shorter (PAYBAO_REFUND_WINDOW_DAYS since raised): the
    trade stays refundable, and the sweep finishes it when today's window ends."""
    make_shop(platform, notify_url=NOTIFY_URL)
    buyer = make_buyer(platform, balance_fen=100_00)
    (trade,) = pay_trades(platform, buyer, "longer", 1)
    _schedule_old_finish_job(platform, trade, window_s_then=DAY_S)
    move(platform, DAY_S + 1)

    while platform.jobs.run_due() > 0:
        pass

    assert finish_jobs_pending(platform) == 0  # it ran
    assert status_of(platform, trade) is TradeStatus.TRADE_SUCCESS
    move(platform, window_s(platform))
    assert platform.services["trades"].finish_due() == 1


def finish_jobs_pending(platform: Platform) -> int:
    with platform.db.read() as tx:
        query = text("SELECT COUNT(*) FROM jobs WHERE kind = :kind AND status = 'pending'")
        return int(tx.execute(query, {"kind": JOB_FINISH}).scalar_one())
