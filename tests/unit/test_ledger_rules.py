"""Each rule of the ledger, one at a time, on the pure `apply_batch`."""

from __future__ import annotations

import pytest

from paybao.domain.errors import InvariantViolation
from paybao.domain.ledger import (
    Account,
    AccountFlags,
    LockKey,
    Transfer,
    TransferFlags,
    TransferRecord,
    TransferResult,
    accounts_to_lock,
    apply_batch,
    expire_batch,
)

R = TransferResult
WALLET = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CARD = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
NOW_US = 1_000_000_000


def accounts() -> dict[int, Account]:
    return {
        1: Account(1, "CNY", WALLET, credits_posted=1_000),
        2: Account(2, "CNY", WALLET),
        3: Account(3, "CNY", 0),
        4: Account(4, "USD", 0),
        5: Account(5, "CNY", CARD, debits_posted=500),
    }


def apply(
    transfers: list[Transfer],
    state: dict[int, Account] | None = None,
    stored: dict[str, TransferRecord] | None = None,
    now_us: int = NOW_US,
):
    return apply_batch(transfers, accounts=state or accounts(), stored=stored or {}, now_us=now_us)


@pytest.mark.parametrize(
    ("transfer", "expected"),
    [
        (Transfer("", 1, 2, 1), R.ID_MUST_NOT_BE_EMPTY),
        (Transfer("x" * 65, 1, 2, 1), R.ID_TOO_LONG),
        (Transfer("a\x00", 1, 2, 1), R.ID_MUST_BE_PRINTABLE),
        (Transfer("a", 1, 2, 1, reference="r" * 65), R.REFERENCE_TOO_LONG),
        (Transfer("a", 1, 2, 1, reference="\x00"), R.REFERENCE_MUST_BE_PRINTABLE),
        (
            Transfer("a", 0, 0, None, flags=TransferFlags.VOID_PENDING, pending_id="p\x00"),
            R.PENDING_ID_MUST_BE_PRINTABLE,
        ),
        (
            Transfer("a", 1, 2, 1, flags=TransferFlags.PENDING | TransferFlags.POST_PENDING),
            R.FLAGS_ARE_MUTUALLY_EXCLUSIVE,
        ),
        (
            Transfer("a", 0, 0, None, flags=TransferFlags.POST_PENDING),
            R.PENDING_ID_MUST_NOT_BE_EMPTY,
        ),
        (Transfer("a", 1, 2, 1, pending_id="p"), R.PENDING_ID_MUST_BE_EMPTY),
        (
            Transfer("a", 0, 0, None, flags=TransferFlags.VOID_PENDING, pending_id="a"),
            R.PENDING_ID_MUST_BE_DIFFERENT,
        ),
        (Transfer("a", 1, 2, 1, timeout_s=5), R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER),
        (Transfer("a", 1, 2, 1, flags=TransferFlags.PENDING, timeout_s=10**9), R.TIMEOUT_TOO_LARGE),
        (Transfer("a", 0, 2, 1), R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO),
        (Transfer("a", 1, 0, 1), R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO),
        (Transfer("a", 1, 1, 1), R.ACCOUNTS_MUST_BE_DIFFERENT),
        (Transfer("a", 1, 2, 0), R.AMOUNT_MUST_BE_POSITIVE),
        (Transfer("a", 1, 2, -5), R.AMOUNT_MUST_BE_POSITIVE),
        (Transfer("a", 1, 2, 10**14 + 1), R.AMOUNT_TOO_LARGE),
        (Transfer("a", 9, 2, 1), R.DEBIT_ACCOUNT_NOT_FOUND),
        (Transfer("a", 1, 9, 1), R.CREDIT_ACCOUNT_NOT_FOUND),
        (Transfer("a", 3, 4, 1), R.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY),
        (Transfer("a", 1, 2, 1_001), R.EXCEEDS_CREDITS),
        (Transfer("a", 3, 5, 501), R.EXCEEDS_DEBITS),
        (
            Transfer("a", 0, 0, None, flags=TransferFlags.POST_PENDING, pending_id="nope"),
            R.PENDING_TRANSFER_NOT_FOUND,
        ),
    ],
)
def test_each_bad_transfer_has_its_own_code_and_writes_nothing(
    transfer: Transfer, expected: TransferResult
) -> None:
    state = accounts()
    before = {i: a.counters() for i, a in state.items()}
    outcome = apply([transfer], state)
    assert outcome.outcomes[0].result is expected
    assert outcome.created == []
    assert {i: a.counters() for i, a in state.items()} == before
    assert all(a.counters() == before[i] for i, a in outcome.accounts.items())


def test_plain_transfer_moves_posted_counters() -> None:
    outcome = apply([Transfer("a", 1, 2, 400)])
    assert outcome.outcomes[0].result is R.OK
    assert outcome.accounts[1].balance_fen == 600
    assert outcome.accounts[2].balance_fen == 400


def test_transfers_in_a_batch_see_each_other() -> None:
    outcome = apply([Transfer("a", 1, 2, 700), Transfer("b", 1, 2, 400), Transfer("c", 1, 2, 300)])
    assert [o.result for o in outcome.outcomes] == [R.OK, R.EXCEEDS_CREDITS, R.OK]
    assert outcome.accounts[1].balance_fen == 0


def _hold(
    amount: int = 600, timeout_s: int = 0
) -> tuple[dict[int, Account], dict[str, TransferRecord]]:
    state = accounts()
    outcome = apply(
        [Transfer("h", 1, 2, amount, flags=TransferFlags.PENDING, timeout_s=timeout_s)], state
    )
    assert outcome.outcomes[0].result is R.OK
    state.update(outcome.accounts)
    return state, {"h": outcome.created[0]}


def test_hold_reserves_and_limits_spending() -> None:
    state, _ = _hold(600)
    assert state[1].available_fen == 400
    assert state[1].balance_fen == 1_000
    assert apply([Transfer("x", 1, 3, 401)], state).outcomes[0].result is R.EXCEEDS_CREDITS


def test_partial_post_releases_the_rest() -> None:
    state, stored = _hold(600)
    outcome = apply(
        [Transfer("p", 0, 0, 250, flags=TransferFlags.POST_PENDING, pending_id="h")], state, stored
    )
    assert outcome.outcomes[0].result is R.OK
    assert outcome.accounts[1].balance_fen == 750
    assert outcome.accounts[1].debits_pending == 0
    assert outcome.accounts[2].balance_fen == 250
    assert outcome.pending_status == {"h": "posted"}


@pytest.mark.parametrize(
    ("transfer", "expected"),
    [
        (
            Transfer("p", 0, 0, 601, flags=TransferFlags.POST_PENDING, pending_id="h"),
            R.EXCEEDS_PENDING_TRANSFER_AMOUNT,
        ),
        (
            Transfer("p", 0, 0, 5, flags=TransferFlags.VOID_PENDING, pending_id="h"),
            R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT,
        ),
        (
            Transfer("p", 3, 0, None, flags=TransferFlags.POST_PENDING, pending_id="h"),
            R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID,
        ),
        (
            Transfer("p", 0, 3, None, flags=TransferFlags.POST_PENDING, pending_id="h"),
            R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID,
        ),
    ],
)
def test_bad_resolutions(transfer: Transfer, expected: TransferResult) -> None:
    state, stored = _hold(600)
    assert apply([transfer], state, stored).outcomes[0].result is expected


def test_posting_a_voided_or_posted_or_expired_hold_fails() -> None:
    state, stored = _hold(600, timeout_s=60)
    void = Transfer("v", 0, 0, None, flags=TransferFlags.VOID_PENDING, pending_id="h")
    post = Transfer("p", 0, 0, None, flags=TransferFlags.POST_PENDING, pending_id="h")
    voided = apply([void, post], state, stored)
    assert [o.result for o in voided.outcomes] == [R.OK, R.PENDING_TRANSFER_ALREADY_VOIDED]
    posted = apply([post, void], state, stored)
    assert [o.result for o in posted.outcomes] == [R.OK, R.PENDING_TRANSFER_ALREADY_POSTED]
    late = apply([post], state, stored, now_us=NOW_US + 60_000_000)
    assert late.outcomes[0].result is R.PENDING_TRANSFER_EXPIRED
    expired = stored["h"]._replace(pending_status="expired")
    assert apply([post], state, {"h": expired}).outcomes[0].result is R.PENDING_TRANSFER_EXPIRED


def test_expiry_releases_holds_only_when_due() -> None:
    state, stored = _hold(600, timeout_s=60)
    early = expire_batch([stored["h"]], accounts=state, now_us=NOW_US + 59_000_000)
    assert early.pending_status == {}
    due = expire_batch([stored["h"]], accounts=state, now_us=NOW_US + 60_000_000)
    assert due.pending_status == {"h": "expired"}
    assert due.accounts[1].available_fen == 1_000


def test_linked_chain_is_all_or_nothing_and_neighbours_survive() -> None:
    chain = [
        Transfer("a", 1, 2, 500, flags=TransferFlags.LINKED),
        Transfer("b", 1, 2, 600),  # fails: only 500 left
    ]
    outcome = apply([Transfer("n", 1, 3, 100), *chain, Transfer("m", 1, 3, 100)])
    assert [o.result for o in outcome.outcomes] == [
        R.OK,
        R.LINKED_EVENT_FAILED,
        R.EXCEEDS_CREDITS,
        R.OK,
    ]
    assert outcome.accounts[1].balance_fen == 800
    assert outcome.accounts[2].balance_fen == 0
    assert [r.id for r in outcome.created] == ["n", "m"]


def test_open_chain_fails_entirely() -> None:
    outcome = apply([Transfer("a", 1, 2, 1, flags=TransferFlags.LINKED)])
    assert outcome.outcomes[0].result is R.LINKED_EVENT_CHAIN_OPEN


def test_duplicates_are_idempotent_and_mismatches_are_named() -> None:
    first = apply([Transfer("a", 1, 2, 100, code=7, reference="r")])
    stored = {"a": first.created[0]}
    state = accounts()
    state.update(first.accounts)
    again = apply([Transfer("a", 1, 2, 100, code=7, reference="r")], state, stored)
    assert again.outcomes[0].result is R.EXISTS
    assert again.outcomes[0].record == stored["a"]
    assert again.created == []
    cases = {
        Transfer("a", 1, 2, 101, code=7, reference="r"): R.EXISTS_WITH_DIFFERENT_AMOUNT,
        Transfer("a", 1, 3, 100, code=7, reference="r"): R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID,
        Transfer("a", 3, 2, 100, code=7, reference="r"): R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID,
        Transfer("a", 1, 2, 100, code=8, reference="r"): R.EXISTS_WITH_DIFFERENT_CODE,
        Transfer("a", 1, 2, 100, code=7, reference="s"): R.EXISTS_WITH_DIFFERENT_REFERENCE,
        Transfer(
            "a", 1, 2, 100, code=7, reference="r", flags=TransferFlags.PENDING
        ): R.EXISTS_WITH_DIFFERENT_FLAGS,
    }
    for transfer, expected in cases.items():
        assert apply([transfer], state, stored).outcomes[0].result is expected


def test_same_id_twice_in_one_batch() -> None:
    outcome = apply([Transfer("a", 1, 2, 100), Transfer("a", 1, 2, 100)])
    assert [o.result for o in outcome.outcomes] == [R.OK, R.EXISTS]
    assert outcome.accounts[1].balance_fen == 900


def test_corrupt_input_state_trips_the_invariant() -> None:
    state = accounts()
    state[1] = Account(1, "CNY", WALLET, debits_posted=2_000, credits_posted=1_000)
    with pytest.raises(InvariantViolation):
        apply([Transfer("a", 3, 1, 1)], state)


# Which accounts a batch must lock -------------------------------------------------------------

LINKED = TransferFlags.LINKED
# 1, 2: customers' wallets; 6: a merchant's settlement account; 3: a platform account; 7: a card.
KNOWN = {
    1: LockKey(WALLET, 0),
    2: LockKey(WALLET, 0),
    6: LockKey(WALLET, 1),
    3: LockKey(0, 2),
    7: LockKey(CARD, 2),
}


def to_lock(transfers: list[Transfer], known: dict[int, LockKey] | None = None) -> set[int]:
    ids = {i for t in transfers for i in (t.debit_account_id, t.credit_account_id) if i}
    return accounts_to_lock(transfers, KNOWN if known is None else known, ids)


def test_customers_accounts_are_always_locked_a_merchants_only_when_debited() -> None:
    assert to_lock([Transfer("a", 3, 1, 10)]) == {1}
    assert to_lock([Transfer("a", 3, 6, 10)]) == set()
    assert to_lock([Transfer("a", 3, 6, 10, flags=TransferFlags.PENDING)]) == set()
    assert to_lock([Transfer("a", 6, 3, 10)]) == {6}


def test_crediting_a_card_locks_it_debiting_does_not() -> None:
    # The platform's account 3 ranks before the card (same rank, lower id): locked with it.
    assert to_lock([Transfer("a", 3, 7, 10)]) == {3, 7}
    assert to_lock([Transfer("a", 7, 3, 10)]) == set()


def test_a_payment_locks_the_buyer_only() -> None:
    """Buyer -> merchant, then the fee out of it, linked: the merchant's debit is covered."""
    assert to_lock([Transfer("p", 1, 6, 100, flags=LINKED), Transfer("f", 6, 3, 1)]) == {1}


def test_an_uncovered_debit_is_locked() -> None:
    more_out = [Transfer("p", 1, 6, 100, flags=LINKED), Transfer("f", 6, 3, 101)]
    assert to_lock(more_out) == {1, 6}
    pending_in = [Transfer("p", 1, 6, 100, flags=LINKED | TransferFlags.PENDING)]
    assert to_lock([*pending_in, Transfer("f", 6, 3, 1)]) == {1, 6}
    out_first = [Transfer("f", 6, 3, 1, flags=LINKED), Transfer("p", 2, 6, 100)]
    assert to_lock(out_first) == {2, 6}
    # Cover never crosses chains: the next chain starts from nothing.
    assert to_lock([Transfer("p", 3, 6, 100), Transfer("f", 6, 3, 1)]) == {6}


def test_locks_keep_the_global_order_customers_merchants_platform() -> None:
    """A refund locks the merchant; the buyer ranks before it, so the buyer is locked too,
    at load: a payment that holds the buyer and waits for the merchant cannot deadlock it."""
    assert to_lock([Transfer("r", 6, 2, 10)]) == {2, 6}
    # A transfer between wallets locks both, and a refund of a payment's fee as well.
    assert to_lock([Transfer("t", 2, 1, 10)]) == {1, 2}
    assert to_lock([Transfer("r", 3, 6, 1, flags=LINKED), Transfer("r2", 6, 1, 10)]) == {1, 6}


def test_posts_and_voids_lock_nothing_and_an_unknown_account_locks_everything() -> None:
    post = Transfer("q", 0, 0, None, flags=TransferFlags.POST_PENDING, pending_id="h")
    assert to_lock([post]) == set()
    assert to_lock([Transfer("a", 3, 1, 10)], known={3: KNOWN[3]}) == {1, 3}


def test_what_is_left_unlocked_gets_the_same_answers_from_any_snapshot() -> None:
    """An unlocked account may have moved since it was read: deltas are added to whatever
    it holds then. So the rules' answers must not depend on its counters."""
    pay = [Transfer("p", 1, 6, 100, flags=LINKED), Transfer("f", 6, 3, 1)]
    assert to_lock(pay) == {1}
    answers = set()
    for merchant_credits, platform_debits in ((0, 0), (7, 10**12), (10**9, 3)):
        state = accounts()
        state[6] = Account(6, "CNY", WALLET, credits_posted=merchant_credits)
        state[3] = Account(3, "CNY", 0, debits_posted=platform_debits)
        answers.add(tuple(o.result for o in apply(pay, state).outcomes))
    assert answers == {(R.OK, R.OK)}
