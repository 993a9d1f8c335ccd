"""The ledger on the real store (SQLite, or PostgreSQL when PAYBAO_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text
from tests.conftest import database_kind, move_to_china_noon
from tests.support.ledger_machine import LedgerMachine, Snapshot
from tests.support.snapshots import rows_of

from paybao.bootstrap import Platform, build_platform
from paybao.domain.accounts import AccountSpec, OwnerKind, Purpose, platform_account, user_account
from paybao.domain.errors import InvariantViolation, Retryable
from paybao.domain.ledger import Transfer, TransferFlags, TransferResult
from paybao.services.ledger import LedgerRejected
from paybao.settings import Settings

R = TransferResult
LEDGER_TABLES = ("ledger_accounts", "ledger_transfers")


def _fund(platform: Platform, user_id: int, amount_fen: int) -> tuple[int, int]:
    bank_key = platform_account(Purpose.BANK_CLEARING).key
    wallet = user_account(user_id)
    ids = platform.ledger.open_accounts([platform_account(Purpose.BANK_CLEARING), wallet])
    outcome = platform.ledger.apply(
        [Transfer(f"fund-{user_id}", ids[bank_key], ids[wallet.key], amount_fen)]
    )[0]
    assert outcome.result is R.OK
    return ids[bank_key], ids[wallet.key]


def test_plain_hold_post_and_reconcile(platform: Platform) -> None:
    bank, wallet = _fund(platform, 1, 10_000)
    hold = Transfer("h1", wallet, bank, 3_000, flags=TransferFlags.PENDING, timeout_s=600)
    assert platform.ledger.apply([hold])[0].result is R.OK
    assert platform.ledger.balance(wallet).available_fen == 7_000
    post = Transfer("p1", 0, 0, 1_000, flags=TransferFlags.POST_PENDING, pending_id="h1")
    assert platform.ledger.apply([post])[0].result is R.OK
    balance = platform.ledger.balance(wallet)
    assert (balance.balance_fen, balance.available_fen, balance.pending_debits_fen) == (
        9_000,
        9_000,
        0,
    )
    assert platform.ledger.apply([post])[0].result is R.EXISTS
    assert platform.reconcile.run().clean


def test_rejection_writes_nothing(platform: Platform) -> None:
    bank, wallet = _fund(platform, 1, 100)
    before = rows_of(platform, LEDGER_TABLES)
    with pytest.raises(LedgerRejected) as caught:
        platform.db.run(
            lambda tx: platform.ledger.transfer_in(tx, [Transfer("x", wallet, bank, 101)])
        )
    assert caught.value.code == "exceeds_credits"
    assert rows_of(platform, LEDGER_TABLES) == before


def test_database_refuses_an_overdraft_even_without_the_code(platform: Platform) -> None:
    _bank, wallet = _fund(platform, 1, 100)
    with (
        pytest.raises(Exception, match=r"(?i)check|constraint"),
        platform.engine.begin() as connection,
    ):
        connection.execute(
            text("UPDATE ledger_accounts SET debits_posted = 500 WHERE id = :id"),
            {"id": wallet},
        )


def test_a_lost_update_is_caught_before_the_commit(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The committing write path checks its compare-and-set inside the same round trip as
    COMMIT: a row that changed after it was read fails the transaction, and nothing lands."""
    bank, wallet = _fund(platform, 1, 1_000)
    store = platform.ledger.store
    original = store.write_and_commit

    def tampered(tx: Any, *args: Any) -> None:
        # Stands in for a writer that ignored the row lock: the counters of the wallet (locked,
        # as this transfer debits it and it must not go below zero) move under us.
        tx.connection.cursor().execute(
            f"UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = {wallet}"
        )
        original(tx, *args)

    monkeypatch.setattr(store, "write_and_commit", tampered)
    with pytest.raises(InvariantViolation, match="changed under us"):
        platform.ledger.apply([Transfer("lost-update", wallet, bank, 300)])
    monkeypatch.undo()
    assert platform.ledger.balance(wallet).balance_fen == 1_000
    assert platform.ledger.apply([Transfer("after", wallet, bank, 300)])[0].result is R.OK
    assert platform.reconcile.run().clean


def test_poster_isolates_failures_per_submission(platform: Platform) -> None:
    bank, wallet = _fund(platform, 1, 1_000)
    _bank, other = _fund(platform, 2, 0 + 1)
    poster = platform.poster()
    futures = [
        poster.submit([Transfer("ok-1", wallet, other, 100)]),
        poster.submit([Transfer("bad", wallet, other, 10**9)]),
        poster.submit(
            [
                Transfer("chain-1", wallet, other, 10, flags=TransferFlags.LINKED),
                Transfer("chain-2", wallet, 999_999, 10),
            ]
        ),
        poster.submit([Transfer("ok-2", other, bank, 50)]),
    ]
    results = [[o.result for o in f.result(timeout=10)] for f in futures]
    assert results == [
        [R.OK],
        [R.EXCEEDS_CREDITS],
        [R.LINKED_EVENT_FAILED, R.CREDIT_ACCOUNT_NOT_FOUND],
        [R.OK],
    ]
    assert platform.ledger.balance(wallet).balance_fen == 900
    assert platform.reconcile.run().clean


def test_hold_expires_through_the_sandbox_clock(platform: Platform) -> None:
    move_to_china_noon(platform)  # the advance below never crosses the day close
    bank, wallet = _fund(platform, 1, 500)
    platform.ledger.apply(
        [Transfer("h", wallet, bank, 500, flags=TransferFlags.PENDING, timeout_s=60)]
    )
    assert platform.ledger.balance(wallet).available_fen == 0
    report = platform.sandbox_clock.advance(61)
    assert report.swept >= 1
    assert platform.ledger.balance(wallet).available_fen == 500
    post = Transfer("p", 0, 0, None, flags=TransferFlags.POST_PENDING, pending_id="h")
    assert platform.ledger.apply([post])[0].result is R.PENDING_TRANSFER_EXPIRED
    assert platform.reconcile.run().clean


def test_reconcile_reports_tampering(platform: Platform) -> None:
    _bank, wallet = _fund(platform, 1, 500)
    with platform.engine.begin() as connection:
        connection.execute(
            text("UPDATE ledger_accounts SET credits_posted = credits_posted + 7 WHERE id = :id"),
            {"id": wallet},
        )
    report = platform.reconcile.run()
    kinds = {d.kind for d in report.differences}
    assert "posted_not_balanced" in kinds
    assert "counter_mismatch_credits_posted" in kinds


def _drain(url: str, wallet: int, sink: int, worker: int, attempts: int) -> int:
    platform = build_platform(Settings(database_url=url))
    succeeded = 0
    try:
        for attempt in range(attempts):
            transfer = Transfer(f"drain-{worker}-{attempt}", wallet, sink, 7)
            outcome = platform.ledger.apply([transfer])[0]
            succeeded += outcome.result is R.OK
    finally:
        platform.close()
    return succeeded


def test_processes_draining_one_account_never_overdraw(platform: Platform) -> None:
    """Several OS processes spend one balance at once: exactly the funded amount moves."""
    _bank, wallet = _fund(platform, 1, 7 * 100)
    sink = platform.ledger.open_accounts([AccountSpec(OwnerKind.USER, "2", Purpose.WALLET)])
    sink_id = next(iter(sink.values()))
    url = platform.settings.resolved_database_url()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        futures = [pool.submit(_drain, url, wallet, sink_id, n, 60) for n in range(4)]
        succeeded = sum(f.result(timeout=120) for f in futures)
    assert succeeded == 100
    assert platform.ledger.balance(wallet).balance_fen == 0
    assert platform.ledger.balance(sink_id).balance_fen == 700
    assert platform.reconcile.run().clean


def test_threads_through_the_poster_never_overdraw(platform: Platform) -> None:
    _bank, wallet = _fund(platform, 1, 5 * 200)
    sink_id = next(iter(platform.ledger.open_accounts([user_account(2)]).values()))
    poster = platform.poster()

    def spend(n: int) -> bool:
        outcome = poster.post([Transfer(f"spend-{n}", wallet, sink_id, 5)])[0]
        return outcome.result is R.OK

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(spend, range(400)))
    assert sum(results) == 200
    assert platform.ledger.balance(wallet).balance_fen == 0
    assert platform.reconcile.run().clean


class DatabaseLedgerMachine(LedgerMachine):
    url = ""

    @staticmethod
    def make():  # type: ignore[override]
        platform = build_platform(Settings(database_url=DatabaseLedgerMachine.url))
        with platform.engine.begin() as connection:
            connection.execute(text("DELETE FROM ledger_transfers"))
            connection.execute(text("DELETE FROM ledger_accounts"))

        def snapshot() -> Snapshot:
            from paybao.domain.ledger import TransferRecord

            with platform.engine.connect() as connection:
                accounts = {
                    row[0]: tuple(row[1:])
                    for row in connection.execute(
                        text(
                            "SELECT id, flags, debits_pending, debits_posted, credits_pending,"
                            " credits_posted FROM ledger_accounts"
                        )
                    )
                }
                transfers = sorted(
                    TransferRecord(*row)
                    for row in connection.execute(
                        text(
                            "SELECT id, debit_account_id, credit_account_id, amount_fen, currency,"
                            " code, flags, pending_id, timeout_s, reference, created_at_us,"
                            " expires_at_us, pending_status FROM ledger_transfers"
                        )
                    )
                )
            return accounts, transfers

        DatabaseLedgerMachine.platforms.append(platform)
        return platform.ledger, snapshot

    platforms: ClassVar[list[Platform]] = []


def test_state_machine_on_the_real_store(settings: Settings) -> None:
    DatabaseLedgerMachine.url = settings.resolved_database_url()
    DatabaseLedgerMachine.TestCase.settings = settings_for_db()
    try:
        DatabaseLedgerMachine.TestCase().runTest()
    finally:
        for platform in DatabaseLedgerMachine.platforms:
            platform.close()
        DatabaseLedgerMachine.platforms.clear()


def settings_for_db():  # type: ignore[no-untyped-def]
    examples = int(os.environ.get("PAYBAO_DB_MACHINE_EXAMPLES", "15"))
    return settings(
        max_examples=examples,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


def test_database_kind_is_what_ci_asked_for(platform: Platform) -> None:
    assert platform.db.dialect == database_kind()


def test_a_fresh_batch_whose_id_exists_is_refused_by_the_unique_key(platform: Platform) -> None:
    """`fresh=True` skips the look-up of the batch's ids: an id that exists all the same (a
    caller's bug) must still never be written twice, nor move money twice."""
    bank, wallet = _fund(platform, 1, 10_000)
    again = Transfer("fund-1", bank, wallet, 10_000)
    with pytest.raises(Retryable):
        platform.db.run(lambda tx: platform.ledger.transfer_in(tx, [again], fresh=True))
    assert platform.ledger.balance(wallet).balance_fen == 10_000
    assert platform.reconcile.run().clean
