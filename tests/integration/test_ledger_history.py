"""Point-in-time balances and an account's transfers (services/ledger_history.py) on the real
store: balance_at(t) for many t against an independent running sum of seeded-random transfers
at sandbox-clock times; holds count only through their post; paging, the time filter and the
refusals with their codes."""

from __future__ import annotations

import random

import pytest
from ledger_history_support import (
    PENDING,
    Pair,
    balance_at,
    hold,
    later,
    move,
    open_pair,
    resolve,
    top_up,
)

from paybao.bootstrap import Platform
from paybao.domain.errors import InvalidInput, NotFound
from paybao.domain.ledger import Transfer, TransferRecord
from paybao.services.ledger_history import CREDIT, DEBIT, TRANSFERS_PAGE_MAX, TransferRange
from paybao.wiring.ledger_history import ledger_history

EVENTS = 40
PROBES_PER_EVENT = 3


def _random_story(platform: Platform, pair: Pair, seed: int) -> list[tuple[int, int]]:
    """Seeded-random top-ups, payments, holds, posts (full and partial) and voids, between
    which platform time moves 0-3 s. The wallet's posted changes as (created_at_us, fen),
    counted from what was asked for, not from the ledger's counters."""
    rng = random.Random(seed)
    changes: list[tuple[int, int]] = []
    balance_fen = 0  # posted
    open_holds: dict[str, int] = {}
    for n in range(EVENTS):
        if rng.random() < 0.5:
            later(platform, rng.randint(1, 3))
        available_fen = balance_fen - sum(open_holds.values())
        choice = rng.choice(["top_up", "pay", "hold", "resolve"])
        if choice == "top_up" or available_fen < 2:
            amount_fen = rng.randint(1, 50_000)
            record = top_up(platform, pair, f"t{n}", amount_fen)
            changes.append((record.created_at_us, amount_fen))
            balance_fen += amount_fen
        elif choice == "pay":
            amount_fen = rng.randint(1, available_fen)
            record = move(platform, Transfer(f"p{n}", pair.wallet, pair.bank, amount_fen))
            changes.append((record.created_at_us, -amount_fen))
            balance_fen -= amount_fen
        elif choice == "hold" or not open_holds:
            amount_fen = rng.randint(1, available_fen)
            hold(platform, pair, f"h{n}", amount_fen)  # changes no posted balance
            open_holds[f"h{n}"] = amount_fen
        else:
            hold_id = rng.choice(sorted(open_holds))
            held_fen = open_holds.pop(hold_id)
            if rng.random() < 0.3:
                resolve(platform, f"v{n}", hold_id, post=False)
                continue
            posted_fen = rng.choice([held_fen, rng.randint(1, held_fen)])
            record = resolve(platform, f"c{n}", hold_id, post=True, amount_fen=posted_fen)
            changes.append((record.created_at_us, -posted_fen))
            balance_fen -= posted_fen
    assert platform.ledger.balance(pair.wallet).balance_fen == balance_fen
    return changes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_balance_at_equals_a_running_sum_of_random_transfers(platform: Platform, seed: int) -> None:
    pair = open_pair(platform)
    start_us = platform.clock.now_us()
    changes = _random_story(platform, pair, seed)
    end_us = platform.clock.now_us()
    rng = random.Random(seed * 7919)
    probes = {start_us - 1, end_us}
    for at_us, _ in changes:  # each instant itself (the transfer excluded) and either side
        probes.update({at_us - 1, at_us, at_us + 1})
    probes.update(rng.randint(start_us, end_us) for _ in range(EVENTS * PROBES_PER_EVENT))
    for at_us in sorted(probes):
        expected_fen = sum(fen for created_us, fen in changes if created_us < at_us)
        assert balance_at(platform, pair.wallet, at_us) == expected_fen, at_us
        # The bank's side mirrors the wallet's: every transfer here is between the two.
        assert balance_at(platform, pair.bank, at_us) == -expected_fen, at_us


def test_a_hold_counts_only_through_its_post(platform: Platform) -> None:
    pair = open_pair(platform)
    top_up(platform, pair, "fund", 10_000)
    later(platform)
    held_before_t = hold(platform, pair, "h1", 3_000)
    voided_hold = hold(platform, pair, "h2", 2_000)
    posted_early = hold(platform, pair, "h3", 1_000)
    later(platform)
    early = resolve(platform, "c3", "h3", post=True, amount_fen=400)  # partial, before T
    resolve(platform, "v2", "h2", post=False)
    later(platform)
    t_us = platform.clock.now_us()
    later(platform)
    late = resolve(platform, "c1", "h1", post=True)  # full, after T
    later(platform)

    assert held_before_t.created_at_us < t_us < late.created_at_us
    assert early.created_at_us < t_us
    # At T: the early post (400) counts; the hold posted after T and the voided one do not.
    assert balance_at(platform, pair.wallet, t_us) == 10_000 - 400
    # Between the holds and their resolution: no hold counts.
    assert balance_at(platform, pair.wallet, posted_early.created_at_us + 1) == 10_000
    assert balance_at(platform, pair.wallet, voided_hold.created_at_us + 1) == 10_000
    # At the post's own instant it does not count yet; just after, it does.
    assert balance_at(platform, pair.wallet, late.created_at_us) == 10_000 - 400
    now = ledger_history(platform).balance_at(pair.wallet)
    assert now.balance_fen == now.balance_now_fen == 10_000 - 400 - 3_000
    assert now.balance_now_fen == platform.ledger.balance(pair.wallet).balance_fen


def _story_for_paging(platform: Platform, pair: Pair) -> list[TransferRecord]:
    records = [top_up(platform, pair, "fund", 50_000)]
    for n in range(6):
        later(platform)
        records.append(move(platform, Transfer(f"pay{n}", pair.wallet, pair.bank, 100 + n)))
    later(platform)
    records.append(hold(platform, pair, "hold", 700))
    return records


def test_transfers_are_paged_newest_first_and_filtered_by_time(platform: Platform) -> None:
    pair = open_pair(platform)
    records = _story_for_paging(platform, pair)
    history = ledger_history(platform)
    seen: list[str] = []
    before_seq = None
    while True:
        page = history.transfers(pair.wallet, TransferRange(before_seq=before_seq, limit=3))
        seen.extend(t.id for t in page.transfers)
        assert len(page.transfers) <= 3
        if page.next_before_seq is None:
            break
        before_seq = page.next_before_seq
    assert seen == [r.id for r in reversed(records)]

    newest = history.transfers(pair.wallet, TransferRange()).transfers
    held, paid, funded = newest[0], newest[1], newest[-1]
    assert (held.direction, held.flags & PENDING, held.pending_status) == (DEBIT, 2, "pending")
    assert held.posted_change_fen == 0 and held.flag_names == ["pending"]
    assert (paid.direction, paid.other_account_id, paid.posted_change_fen) == (
        DEBIT,
        pair.bank,
        -105,
    )
    assert (funded.direction, funded.other_account_id, funded.amount_fen) == (
        CREDIT,
        pair.bank,
        50_000,
    )
    from_us, to_us = records[2].created_at_us, records[5].created_at_us
    window = history.transfers(pair.wallet, TransferRange(from_us, to_us)).transfers
    assert [t.id for t in window] == ["pay3", "pay2", "pay1"]  # [from, to): to excluded
    bank_side = history.transfers(pair.bank, TransferRange(from_us, to_us)).transfers
    assert [t.direction for t in bank_side] == [CREDIT] * 3


def test_refusals_carry_their_codes(platform: Platform) -> None:
    pair = open_pair(platform)
    history = ledger_history(platform)
    now_us = platform.clock.now_us()
    cases = [
        (lambda: history.balance_at(999_999, now_us), NotFound, "account_not_found"),
        (
            lambda: history.balance_at(pair.wallet, now_us + 60_000_000),
            InvalidInput,
            "balance_at_in_future",
        ),
        (lambda: history.balance_at(pair.wallet, -1), InvalidInput, "balance_at_negative"),
        (lambda: history.transfers(999_999, TransferRange()), NotFound, "account_not_found"),
        (
            lambda: history.transfers(pair.wallet, TransferRange(limit=TRANSFERS_PAGE_MAX + 1)),
            InvalidInput,
            "page_size_invalid",
        ),
        (
            lambda: history.transfers(pair.wallet, TransferRange(limit=0)),
            InvalidInput,
            "page_size_invalid",
        ),
        (
            lambda: history.transfers(pair.wallet, TransferRange(5, 5)),
            InvalidInput,
            "transfer_range_invalid",
        ),
        (
            lambda: history.transfers(pair.wallet, TransferRange(-1, None)),
            InvalidInput,
            "transfer_range_invalid",
        ),
        (
            lambda: history.transfers(pair.wallet, TransferRange(before_seq=0)),
            InvalidInput,
            "page_cursor_invalid",
        ),
    ]
    for call, error, code in cases:
        with pytest.raises(error) as caught:
            call()
        assert caught.value.code == code
