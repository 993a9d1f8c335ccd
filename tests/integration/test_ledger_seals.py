"""The journal's hash chain on a real database: the sweep seals settled transfers into blocks,
the replay is clean, and what someone with database access could do behind the ledger's back
is reported by `verify` with its code: an amount edited (with both counters, so reconcile
passes), a transfer deleted, one inserted with a low seq, one that committed late below the
sealed point. Editing `pending_status` is not a difference. Two sealers racing make one
chain. `paybao ledger seal` and `verify-chain` through the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from ledger_history_support import Pair, hold, later, open_pair, resolve, top_up
from sqlalchemy import text
from tests.conftest import database_kind, move_to_china_noon
from tests.integration.test_cli import env  # noqa: F401 (a fixture)
from typer.testing import CliRunner

from paybao.adapters.db.ledger_seal_store import SqlSealStore
from paybao.bootstrap import Platform
from paybao.cli import app
from paybao.domain.ledger_seal import (
    ANCHOR_MISMATCH,
    GENESIS_HASH,
    HASH_MISMATCH,
    PREV_HASH_BROKEN,
    SEAL_HORIZON_S,
    SEAL_LINGER_S,
    SEAL_OVERDUE_S,
    TRANSFER_MISSING,
    TRANSFER_NOT_IN_BLOCK,
    TRANSFER_UNSEALED,
    SealedTransfer,
)
from paybao.services import ledger_seals as ledger_seals_module
from paybao.services.ledger_seals import ChainReport, LedgerSeals
from paybao.settings import Settings
from paybao.wiring import ledger_seals as ledger_seals_wiring

SETTLED_S = SEAL_HORIZON_S + SEAL_LINGER_S + 1  # the sweep seals even a partial block
runner = CliRunner()


@pytest.fixture
def seals(platform: Platform) -> LedgerSeals:
    """The feature as installed (its sweep among the platform's)."""
    if "ledger_seals" not in platform.services:
        ledger_seals_wiring.install(platform)
    service = platform.services["ledger_seals"]
    assert isinstance(service, LedgerSeals) and service.seal_due in platform.sweeps
    return service


@pytest.fixture
def pair(platform: Platform) -> Pair:
    """A few transfers of every kind: top-ups, a hold posted, a hold voided."""
    return _transfers(platform)


@pytest.fixture
def pair_at_noon(platform: Platform) -> Pair:
    """The same, made at China's noon: the test's `later` then never crosses its midnight."""
    move_to_china_noon(platform)
    return _transfers(platform)


def _transfers(platform: Platform) -> Pair:
    pair = open_pair(platform)
    top_up(platform, pair, "fund-1", 10_000)
    top_up(platform, pair, "fund-2", 5_000)
    hold(platform, pair, "hold-1", 3_000)
    resolve(platform, "post-1", "hold-1", post=True)
    hold(platform, pair, "hold-2", 1_000)
    resolve(platform, "void-1", "hold-2", post=False)
    return pair


def _advance(platform: Platform, seconds: int) -> None:
    """Move platform time without running the sweeps (`later` runs them)."""
    clock = platform.clock
    clock.set_offset_us(clock.offset_us(fresh=True) + seconds * 1_000_000)


def _codes(report: ChainReport) -> list[tuple[str, int | None, int | None]]:
    return [(f.code, f.block_no, f.seq) for f in report.findings]


def _sql(platform: Platform, statement: str, **params: Any) -> Any:
    with platform.engine.begin() as connection:
        return connection.execute(text(statement), params)


def _seq_of(platform: Platform, transfer_id: str) -> int:
    with platform.engine.connect() as connection:
        found = connection.execute(
            text("SELECT seq FROM ledger_transfers WHERE id = :id"), {"id": transfer_id}
        ).scalar_one()
    return int(found)


_INSERT = (
    "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount_fen,"
    " currency, code, flags, timeout_s, reference, created_at_us{seq_column})"
    " VALUES (:id, :debit, :credit, :amount, 'CNY', 1, 0, 0, 'inserted', :at{seq_value})"
)


def _insert(
    connection: Any, pair: Pair, transfer_id: str, at_us: int, seq: int | None = None
) -> None:
    """A transfer row written behind the ledger's back (no counters moved)."""
    statement = _INSERT.format(
        seq_column=", seq" if seq is not None else "", seq_value=", :seq" if seq else ""
    )
    params = {"id": transfer_id, "debit": pair.bank, "credit": pair.wallet, "amount": 100}
    connection.execute(text(statement), {**params, "at": at_us, "seq": seq})


def test_the_sweep_seals_settled_transfers_and_the_replay_is_clean(
    platform: Platform, seals: LedgerSeals, pair: Pair
) -> None:
    assert seals.seal_due() == 0  # nothing is settled yet
    later(platform, SEAL_HORIZON_S + 1)  # settled, but a partial block lingers
    assert seals.head().block_no == 0
    later(platform, SEAL_LINGER_S)  # the sweep (run by the clock's advance) seals it
    head = seals.head()
    assert (head.block_no, head.to_seq, head.unsealed_count) == (1, 6, 0)
    top_up(platform, pair, "fund-3", 700)
    assert seals.seal_now() == 0  # too new, even on demand
    later(platform, SEAL_HORIZON_S + 1)
    assert seals.seal_now() == 1
    report = seals.verify()
    assert report.clean, _codes(report)
    assert (report.blocks_checked, report.transfers_checked, report.unsealed_count) == (2, 7, 0)
    assert (report.head_block_no, report.head_to_seq) == (2, 7)
    blocks = _sql(platform, "SELECT block_no, prev_hash, hash FROM ledger_seals ORDER BY 1").all()
    assert [b.prev_hash for b in blocks] == [GENESIS_HASH, blocks[0].hash]
    assert report.head_hash == blocks[1].hash
    assert seals.verify({1: blocks[0].hash.upper()}).clean  # an anchor that holds
    assert _codes(seals.verify({1: blocks[1].hash, 9: GENESIS_HASH})) == [
        (ANCHOR_MISMATCH, 1, None),
        (ANCHOR_MISMATCH, 9, None),
    ]


def test_a_post_or_void_changing_pending_status_is_not_a_difference(
    platform: Platform, seals: LedgerSeals, pair: Pair
) -> None:
    hold(platform, pair, "hold-3", 500)
    later(platform, SETTLED_S)
    assert seals.head().to_seq == 7
    resolve(platform, "post-3", "hold-3", post=True)  # updates a sealed hold's status
    _sql(platform, "UPDATE ledger_transfers SET pending_status = 'voided' WHERE id = 'hold-1'")
    assert seals.verify().clean


def test_an_amount_edited_with_both_counters_passes_reconcile_but_not_the_chain(
    platform: Platform, seals: LedgerSeals, pair_at_noon: Pair
) -> None:
    pair = pair_at_noon
    later(platform, SETTLED_S)
    assert platform.reconcile.run().clean
    _sql(platform, "UPDATE ledger_transfers SET amount_fen = 9000 WHERE id = 'fund-1'")
    _sql(
        platform,
        "UPDATE ledger_accounts SET credits_posted = credits_posted - 1000 WHERE id = :id",
        id=pair.wallet,
    )
    _sql(
        platform,
        "UPDATE ledger_accounts SET debits_posted = debits_posted - 1000 WHERE id = :id",
        id=pair.bank,
    )
    assert platform.reconcile.run().clean  # the sums still hold
    report = seals.verify()
    assert _codes(report) == [(HASH_MISMATCH, 1, None)]
    assert "fields were changed" in report.findings[0].detail


def test_block_rows_written_by_hand_are_reported_and_not_built_on(
    platform: Platform, seals: LedgerSeals, pair: Pair
) -> None:
    later(platform, SETTLED_S)
    top_up(platform, pair, "fund-3", 100)
    later(platform, SETTLED_S)
    _sql(platform, "UPDATE ledger_seals SET hash = 'not a hash' WHERE block_no = 2")
    _sql(platform, "UPDATE ledger_seals SET prev_hash = 'zz' WHERE block_no = 1")
    assert _codes(seals.verify()) == [
        (PREV_HASH_BROKEN, 1, None),
        (HASH_MISMATCH, 1, None),
        (HASH_MISMATCH, 2, None),
    ]
    top_up(platform, pair, "fund-4", 100)
    later(platform, SETTLED_S)  # the sweep leaves a head without a valid hash alone
    assert seals.head().block_no == 2


def test_a_deleted_transfer_is_named(platform: Platform, seals: LedgerSeals, pair: Pair) -> None:
    later(platform, SETTLED_S)
    seq = _seq_of(platform, "fund-2")
    _sql(platform, "DELETE FROM ledger_transfers WHERE id = 'fund-2'")
    assert _codes(seals.verify()) == [(HASH_MISMATCH, 1, None), (TRANSFER_MISSING, 1, seq)]


def test_a_backdated_transfer_with_a_low_seq_is_caught(
    platform: Platform, seals: LedgerSeals, pair: Pair
) -> None:
    # A gap in the sealed range: a transfer between two others that is gone before sealing
    # (as a rolled-back transaction's seq on PostgreSQL).
    with platform.engine.begin() as connection:
        _insert(connection, pair, "gone", platform.clock.now_us())
    top_up(platform, pair, "fund-3", 100)
    gap = _seq_of(platform, "gone")
    _sql(platform, "DELETE FROM ledger_transfers WHERE id = 'gone'")
    later(platform, SETTLED_S)
    assert seals.verify().clean
    with platform.engine.begin() as connection:
        _insert(connection, pair, "backdated-gap", 1, seq=gap)
        _insert(connection, pair, "backdated-zero", 1, seq=-5)
    assert _codes(seals.verify()) == [
        (TRANSFER_NOT_IN_BLOCK, None, -5),
        (TRANSFER_NOT_IN_BLOCK, 1, gap),  # the block's own transfers still check
    ]


@pytest.fixture
def held_open(platform: Platform) -> Iterator[threading.Event]:
    """Nothing to set up; makes sure a thread left waiting is released at the end."""
    release = threading.Event()
    yield release
    release.set()


def test_a_transfer_that_commits_late_below_the_sealed_point_is_reported(
    platform: Platform, seals: LedgerSeals, pair: Pair, held_open: threading.Event
) -> None:
    late_seq: int
    if database_kind() == "postgresql":
        # A real transaction that takes its seq, then commits after a higher seq is sealed.
        inserted = threading.Event()
        failures: list[BaseException] = []

        def slow() -> None:
            try:
                with platform.engine.begin() as connection:
                    _insert(connection, pair, "slow", platform.clock.now_us())
                    inserted.set()
                    held_open.wait(30)
            except BaseException as error:  # reported below
                failures.append(error)
                inserted.set()

        thread = threading.Thread(target=slow)
        thread.start()
        assert inserted.wait(10)
        top_up(platform, pair, "fast", 100)  # a higher seq, committed first
        later(platform, SETTLED_S)  # the sweep seals up to "fast": "slow" is not visible
        held_open.set()
        thread.join(10)
        assert not failures
        late_seq = _seq_of(platform, "slow")
    else:
        # SQLite runs one writer at a time: the same rows, written in the order they would
        # commit in.
        with platform.engine.begin() as connection:
            _insert(connection, pair, "placeholder", platform.clock.now_us())
        late_seq = _seq_of(platform, "placeholder")
        top_up(platform, pair, "fast", 100)
        _sql(platform, "DELETE FROM ledger_transfers WHERE seq = :seq", seq=late_seq)
        later(platform, SETTLED_S)
        with platform.engine.begin() as connection:
            _insert(connection, pair, "slow", platform.clock.now_us(), seq=late_seq)
    assert seals.head().to_seq == _seq_of(platform, "fast") > late_seq
    assert _codes(seals.verify()) == [(TRANSFER_NOT_IN_BLOCK, 1, late_seq)]
    # Later sweeps never absorb it: it stays reported.
    top_up(platform, pair, "fund-3", 100)
    later(platform, SETTLED_S)
    report = seals.verify()
    assert report.head_block_no == 2
    assert _codes(report) == [(TRANSFER_NOT_IN_BLOCK, 1, late_seq)]


def test_an_overdue_unsealed_transfer_is_reported_until_sealed(
    platform: Platform, seals: LedgerSeals, pair: Pair
) -> None:
    first = _seq_of(platform, "fund-1")
    old_us = platform.clock.now_us() - (SEAL_OVERDUE_S + 1) * 1_000_000
    _sql(
        platform,
        "UPDATE ledger_transfers SET created_at_us = :at WHERE seq = :seq",
        at=old_us,
        seq=first,
    )
    report = seals.verify()
    assert _codes(report) == [(TRANSFER_UNSEALED, None, first)]
    assert report.unsealed_count == 6
    # Only the prefix that is settled is sealed: the next seq is still too new.
    assert seals.seal_now() == 1
    report = seals.verify()
    assert report.clean and report.unsealed_count == 5


def test_full_blocks_do_not_wait_and_pages_are_small(
    platform: Platform, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_seals_module, "PAGE_TRANSFERS", 2)  # many pages per block
    top_up(platform, pair, "fund-3", 100)
    small = LedgerSeals(platform.db, SqlSealStore(), platform.clock, transfers_max=3)
    _advance(platform, SEAL_HORIZON_S + 1)  # settled, none lingered
    assert small.seal_due() == 6  # two full blocks; the seventh waits to fill its block
    assert small.head().unsealed_count == 1
    report = small.verify()
    assert report.clean and (report.blocks_checked, report.transfers_checked) == (2, 6)
    _advance(platform, SEAL_LINGER_S)
    assert small.seal_due() == 1


class _RacingStore(SqlSealStore):
    """Lets another sealer seal while this one is building its block."""

    def __init__(self, rival: LedgerSeals) -> None:
        self.rival = rival
        self.sealed_by_rival = 0

    def transfers_after(
        self, tx: Any, after_seq: int, upto_seq: int | None, limit: int
    ) -> list[SealedTransfer]:
        rows = super().transfers_after(tx, after_seq, upto_seq, limit)
        if not self.sealed_by_rival:
            self.sealed_by_rival = self.rival.seal_now()
        return rows


def test_a_sealer_whose_head_moved_gives_way(
    platform: Platform, seals: LedgerSeals, pair: Pair
) -> None:
    later(platform, SEAL_HORIZON_S + 1)  # settled, not lingered: the sweep left them
    store = _RacingStore(seals)
    slow = LedgerSeals(platform.db, store, platform.clock)
    assert slow.seal_now() == 0  # it built block 1 too, but the rival's came first
    assert store.sealed_by_rival == 6
    report = seals.verify()
    assert report.clean and report.head_block_no == 1


def test_sealers_racing_in_threads_make_one_chain(platform: Platform, pair: Pair) -> None:
    for n in range(3, 25):
        top_up(platform, pair, f"fund-{n}", 100)
    _advance(platform, SEAL_HORIZON_S + 1)
    total = 28
    sealers = [
        LedgerSeals(platform.db, SqlSealStore(), platform.clock, transfers_max=3) for _ in range(3)
    ]
    start = threading.Barrier(len(sealers))
    sealed: list[int] = []
    failures: list[BaseException] = []

    def seal(sealer: LedgerSeals) -> None:
        try:
            start.wait(10)
            done = 0
            for _ in range(20):
                done += sealer.seal_now(blocks_max=2)
            sealed.append(done)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=seal, args=(s,)) for s in sealers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    assert sum(sealed) == total  # each transfer sealed once
    report = sealers[0].verify()
    assert report.clean, _codes(report)
    assert (report.blocks_checked, report.transfers_checked) == (10, total)


def test_the_cli_seals_and_verifies(
    platform: Platform,
    seals: LedgerSeals,
    pair: Pair,
    env: Settings,  # noqa: F811 (the fixture imported above)
) -> None:
    platform.sandbox_clock.advance(SEAL_HORIZON_S + 1)
    sealed = runner.invoke(app, ["ledger", "seal"])
    assert sealed.exit_code == 0, sealed.output
    assert "sealed 6 transfer(s)" in sealed.output
    clean = runner.invoke(app, ["ledger", "verify-chain", "--json"])
    assert clean.exit_code == 0, clean.output
    found = json.loads(clean.output)
    assert (found["clean"], found["blocks_checked"], found["transfers_checked"]) == (True, 1, 6)
    head = found["head"]
    anchored = runner.invoke(app, ["ledger", "verify-chain", "--anchor", f"1:{head['hash']}"])
    assert anchored.exit_code == 0, anchored.output
    assert f"head block 1 {head['hash']} (to seq 6)" in anchored.output
    assert anchored.output.rstrip().endswith("clean")
    _sql(platform, "UPDATE ledger_transfers SET reference = 'x' WHERE id = 'post-1'")
    dirty = runner.invoke(app, ["ledger", "verify-chain"])
    assert dirty.exit_code == 1, dirty.output
    assert f"{HASH_MISMATCH}: block 1:" in dirty.output
    assert dirty.output.rstrip().endswith("1 difference(s)")
    bad = runner.invoke(app, ["ledger", "verify-chain", "--anchor", "1:abc"])
    assert bad.exit_code == 2
