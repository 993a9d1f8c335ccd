"""The worker delivers notifications in batches: one read loads the claimed jobs' notifications,
one transaction records a group of outcomes; every guarantee of one-at-a-time delivery holds
(each attempt logged, the retry schedule, at least once after a crash, safe claiming)."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from gateway_support import make_buyer, make_shop
from sqlalchemy import text
from tests.conftest import database_kind

from paybao.bootstrap import Platform
from paybao.services.jobs import LEASE_S
from paybao.services.notify import Delivery
from paybao.services.trades import NewTrade

URL = "http://merchant.example/notify"


class Merchant:
    """A NotificationSender that answers by out_trade_no (default `success`)."""

    def __init__(self, answers: dict[str, Delivery] | None = None) -> None:
        self.answers = answers or {}
        self.posted: list[str] = []
        self.before_answer: Callable[[str], None] = lambda _: None
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, content_type: str) -> Delivery:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        number = form["out_trade_no"]
        with self._lock:
            self.posted.append(number)
        self.before_answer(number)
        return self.answers.get(number, Delivery(200, "success", None, 1))


@pytest.fixture
def merchant(platform: Platform) -> Merchant:
    make_shop(platform, notify_url=URL)
    sender = Merchant()
    platform.services["notify"].sender = sender
    return sender


def pay(platform: Platform, buyer: int, number: str) -> None:
    trades = platform.services["trades"]
    new = NewTrade(
        app_id="2021000000000777",
        out_trade_no=number,
        product="FACE_TO_FACE_PAYMENT",
        subject="batch",
        total_fen=100,
        fingerprint=number,
    )
    trades.pay_with_code(new, trades.issue_auth_code(buyer))


def rows(platform: Platform, sql: str) -> list[tuple[Any, ...]]:
    with platform.db.read() as tx:
        return [tuple(row) for row in tx.execute(text(sql))]


def notifications(platform: Platform) -> dict[str, tuple[Any, ...]]:
    """out_trade_no -> (status, attempts, attempt outcomes in order)."""
    found = rows(platform, "SELECT id, snapshot, status, attempts FROM trade_notifications")
    outcomes = rows(platform, "SELECT notification_id, outcome FROM notify_attempts ORDER BY id")
    result = {}
    for notification_id, snapshot, status, attempts in found:
        number = snapshot.split('"out_trade_no": "')[1].split('"')[0]
        tried = tuple(outcome for nid, outcome in outcomes if nid == notification_id)
        result[number] = (status, attempts, tried)
    return result


def notify_jobs(platform: Platform) -> dict[str, tuple[str, int, int]]:
    """job key -> (status, attempts, due_at_us)."""
    found = rows(
        platform, "SELECT key, status, attempts, due_at_us FROM jobs WHERE kind = 'notify'"
    )
    return {key: (status, attempts, due) for key, status, attempts, due in found}


def lease_ends(platform: Platform) -> None:
    """The test clock jumps past the lease (`sandbox_clock.advance` would run the leased job's
    due time over and over until then)."""
    clock: Any = platform.clock
    clock.set_offset_us(clock.offset_us(fresh=True) + (LEASE_S + 1) * 1_000_000)


def count_units(platform: Platform) -> dict[str, int]:
    """Count the Database units of work the worker opens from now on."""
    counts = {"run": 0, "read": 0}
    db: Any = platform.db
    for name in counts:
        original = getattr(db, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            counts[_name] += 1
            return _original(*args, **kw)

        setattr(db, name, counted)
    return counts


def test_a_batch_is_loaded_in_one_read_and_recorded_in_one_transaction(
    platform: Platform, merchant: Merchant
) -> None:
    buyer = make_buyer(platform)
    pay(platform, buyer, "warm")
    platform.jobs.run_due()  # the process's first: caches the buyer's masked phone and keys
    for number in range(6):
        pay(platform, buyer, f"b-{number}")
    units = count_units(platform)

    assert platform.jobs.run_due() == 6

    assert units == {"run": 2, "read": 1}  # the claim, the load, the group's outcomes
    assert sorted(merchant.posted) == [f"b-{n}" for n in range(6)] + ["warm"]
    assert set(notifications(platform).values()) == {("delivered", 1, ("success",))}
    assert {status for status, _, _ in notify_jobs(platform).values()} == {"done"}


def test_mixed_outcomes_in_one_group_each_follow_the_schedule(
    platform: Platform, merchant: Merchant
) -> None:
    buyer = make_buyer(platform)
    merchant.answers = {
        "m-fail": Delivery(200, "fail", None, 1),
        "m-down": Delivery(None, "", "ConnectError: refused", 1),
    }
    for number in ("m-ok", "m-fail", "m-down"):
        pay(platform, buyer, number)
    started_us = platform.clock.now_us()

    platform.jobs.run_due()

    assert notifications(platform) == {
        "m-ok": ("delivered", 1, ("success",)),
        "m-fail": ("pending", 1, ("rejected",)),
        "m-down": ("pending", 1, ("error",)),
    }
    jobs = notify_jobs(platform)
    retried = [job for job in jobs.values() if job[0] == "pending"]
    assert len(retried) == 2 and all(attempts == 1 for _, attempts, _ in retried)
    # The published schedule: the second try 4 minutes after the first.
    assert all(0 <= due - started_us - 240_000_000 < 5_000_000 for _, _, due in retried)

    merchant.answers = {}
    platform.sandbox_clock.advance(240)
    assert notifications(platform) == {
        "m-ok": ("delivered", 1, ("success",)),
        "m-fail": ("delivered", 2, ("rejected", "success")),
        "m-down": ("delivered", 2, ("error", "success")),
    }


def test_two_deliveries_of_one_notification_in_a_group_both_count(
    platform: Platform, merchant: Merchant
) -> None:
    buyer = make_buyer(platform)
    pay(platform, buyer, "twice")
    ((notify_id,),) = rows(platform, "SELECT notify_id FROM trade_notifications")
    # An operator resends before the first delivery ran: both jobs are due in one claim.
    assert platform.services["notify"].resend_by_operator(None, notify_id, actor="test")

    assert platform.jobs.run_due() == 2

    assert notifications(platform) == {"twice": ("delivered", 2, ("success", "success"))}


def test_a_job_finished_elsewhere_rolls_back_only_its_own_outcome(
    platform: Platform, merchant: Merchant
) -> None:
    buyer = make_buyer(platform)
    for number in ("e-1", "e-2", "e-3"):
        pay(platform, buyer, number)

    def another_worker_finishes(number: str) -> None:
        # Our lease ran out and another worker delivered e-2 and finished its job meanwhile.
        if number == "e-2":
            with platform.db.write() as tx:
                tx.execute(
                    text(
                        "UPDATE jobs SET status = 'done' WHERE kind = 'notify' AND key ="
                        " (SELECT notify_id FROM trade_notifications WHERE snapshot LIKE :n)"
                    ),
                    {"n": '%"out_trade_no": "e-2"%'},
                )

    merchant.before_answer = another_worker_finishes
    with pytest.raises(RuntimeError, match="finished elsewhere"):
        platform.jobs.run_due()

    found = notifications(platform)
    assert found["e-1"] == found["e-3"] == ("delivered", 1, ("success",))
    assert found["e-2"] == ("pending", 0, ())
    assert {status for status, _, _ in notify_jobs(platform).values()} == {"done"}


def test_a_worker_killed_after_claiming_loses_no_delivery(
    platform: Platform, merchant: Merchant
) -> None:
    buyer = make_buyer(platform)
    pay(platform, buyer, "k-1")
    now_us = platform.clock.now_us()
    # A worker claims the job and dies before delivering: nothing recorded, the lease stands.
    claimed = platform.db.run(
        lambda tx: platform.jobs.store.claim_due(tx, now_us, 10, now_us + LEASE_S * 1_000_000)
    )
    assert [job.kind for job in claimed] == ["notify"]
    assert platform.jobs.run_due() == 0

    lease_ends(platform)

    assert platform.jobs.run_due() == 1
    assert merchant.posted == ["k-1"]
    assert notifications(platform) == {"k-1": ("delivered", 1, ("success",))}


def test_a_worker_killed_before_recording_delivers_again(
    platform: Platform, merchant: Merchant
) -> None:
    buyer = make_buyer(platform)
    pay(platform, buyer, "k-2")

    def killed(_: str) -> None:
        raise SystemExit("killed mid-delivery")

    merchant.before_answer = killed
    with pytest.raises(SystemExit):
        platform.jobs.run_due()
    assert notifications(platform) == {"k-2": ("pending", 0, ())}

    merchant.before_answer = lambda _: None
    lease_ends(platform)

    assert platform.jobs.run_due() == 1
    assert merchant.posted == ["k-2", "k-2"]  # at least once
    assert notifications(platform) == {"k-2": ("delivered", 1, ("success",))}


@pytest.mark.skipif(database_kind() != "postgresql", reason="SQLite runs one writer at a time")
def test_a_second_worker_skips_the_jobs_the_first_holds_locked(
    platform: Platform, merchant: Merchant
) -> None:
    buyer = make_buyer(platform)
    for number in range(8):
        pay(platform, buyer, f"s-{number}")
    store = platform.jobs.store
    now_us = platform.clock.now_us()
    lease_us = now_us + LEASE_S * 1_000_000
    second: list[Any] = []
    with platform.db.write() as first_tx:
        first = store.claim_due(first_tx, now_us, 5, lease_us)
        # The first claim's transaction is still open: its rows stay locked meanwhile.
        thread = threading.Thread(
            target=lambda: second.extend(
                platform.db.run(lambda tx: store.claim_due(tx, now_us, 5, lease_us))
            )
        )
        thread.start()
        thread.join(10)
        assert not thread.is_alive(), "the second claim waited for the first's locks"
    assert len(first) == 5 and len(second) == 3
    assert not {job.id for job in first} & {job.id for job in second}
