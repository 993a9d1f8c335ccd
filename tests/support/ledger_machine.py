"""A Hypothesis state machine that drives the ledger service through random operations and
re-checks every invariant after every step. The same machine runs on in-memory fakes (many
examples, tests/unit) and on the real SQLite/PostgreSQL store (fewer, tests/integration)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from paybao.domain.accounts import AccountSpec, OwnerKind, Purpose, platform_account
from paybao.domain.ledger import (
    AccountFlags,
    Transfer,
    TransferFlags,
    TransferRecord,
    TransferResult,
)
from paybao.services.clock import ManualClock
from paybao.services.ledger import LedgerService

Snapshot = tuple[dict[int, tuple[int, int, int, int, int]], list[TransferRecord]]

amounts = st.integers(min_value=1, max_value=5_000)
weird_amounts = st.sampled_from([0, -1, -100, 10**14 + 1, 10**18])


class LedgerMachine(RuleBasedStateMachine):
    """Subclasses set `make` (returns a LedgerService and a snapshot function)."""

    make: Callable[[], tuple[LedgerService, Callable[[], Snapshot]]]

    def __init__(self) -> None:
        super().__init__()
        self.ledger, self.snapshot = type(self).make()
        self.clock = ManualClock()
        self.ledger.clock = self.clock
        self.ids = itertools.count(1)
        self.sent: list[Transfer] = []
        self.holds: list[str] = []

    @initialize()
    def open_accounts(self) -> None:
        specs = [
            AccountSpec(OwnerKind.USER, "1", Purpose.WALLET),
            AccountSpec(OwnerKind.USER, "2", Purpose.WALLET),
            AccountSpec(OwnerKind.MERCHANT, "3", Purpose.SETTLEMENT),
            platform_account(Purpose.BANK_CLEARING),
        ]
        opened = self.ledger.open_accounts(specs)
        self.accounts = [opened[spec.key] for spec in specs]
        self.bank = self.accounts[3]
        # Fund the wallets from the bank so that spending has something to spend.
        self._apply([Transfer(self._id(), self.bank, self.accounts[0], 50_000)])
        self._apply([Transfer(self._id(), self.bank, self.accounts[1], 20_000)])

    # Helpers -------------------------------------------------------------------------------

    def _id(self) -> str:
        return f"t{next(self.ids)}"

    def _apply(self, transfers: list[Transfer]) -> list[Any]:
        before = self.snapshot()
        outcomes = self.ledger.apply(transfers)
        after = self.snapshot()
        assert len(outcomes) == len(transfers)
        if not any(o.result is TransferResult.OK for o in outcomes):
            # Nothing new was applied: every byte of every account must be as it was.
            assert before == after, "a rejected or repeated operation changed state"
        for transfer, outcome in zip(transfers, outcomes, strict=True):
            if outcome.result is TransferResult.OK:
                self.sent.append(transfer)
                if transfer.flags & TransferFlags.PENDING:
                    self.holds.append(transfer.id)
        return outcomes

    def _available(self, account_id: int) -> int:
        counters = self.snapshot()[0][account_id]
        flags, debits_pending, debits_posted, _credits_pending, credits_posted = counters
        if not flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
            return 10**15
        return credits_posted - debits_posted - debits_pending

    # Rules ---------------------------------------------------------------------------------

    @rule(source=st.integers(0, 3), destination=st.integers(0, 3), amount=amounts)
    def plain(self, source: int, destination: int, amount: int) -> None:
        debit, credit = self.accounts[source], self.accounts[destination]
        expected = TransferResult.OK
        if debit == credit:
            expected = TransferResult.ACCOUNTS_MUST_BE_DIFFERENT
        elif amount > self._available(debit):
            expected = TransferResult.EXCEEDS_CREDITS
        outcome = self._apply([Transfer(self._id(), debit, credit, amount)])[0]
        assert outcome.result is expected, (outcome.result, expected)

    @rule(source=st.integers(0, 2), amount=amounts, timeout_s=st.sampled_from([0, 60, 3600]))
    def hold(self, source: int, amount: int, timeout_s: int) -> None:
        debit = self.accounts[source]
        flags = TransferFlags.PENDING
        outcome = self._apply(
            [Transfer(self._id(), debit, self.bank, amount, flags=flags, timeout_s=timeout_s)]
        )[0]
        expected = TransferResult.OK if amount <= self._available_before(debit, outcome) else None
        if expected is not None:
            assert outcome.result is TransferResult.OK
        else:
            assert outcome.result is TransferResult.EXCEEDS_CREDITS

    def _available_before(self, account_id: int, outcome: Any) -> int:
        available = self._available(account_id)
        if outcome.result is TransferResult.OK:
            available += outcome.record.amount_fen
        return available

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data(), partial=st.booleans())
    def post(self, data: st.DataObject, partial: bool) -> None:
        pending_id = data.draw(st.sampled_from(self.holds))
        amount = data.draw(st.integers(1, 6_000)) if partial else None
        transfer = Transfer(
            self._id(), 0, 0, amount, flags=TransferFlags.POST_PENDING, pending_id=pending_id
        )
        outcome = self._apply([transfer])[0]
        assert outcome.result in {
            TransferResult.OK,
            TransferResult.PENDING_TRANSFER_ALREADY_POSTED,
            TransferResult.PENDING_TRANSFER_ALREADY_VOIDED,
            TransferResult.PENDING_TRANSFER_EXPIRED,
            TransferResult.EXCEEDS_PENDING_TRANSFER_AMOUNT,
        }, outcome.result

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        pending_id = data.draw(st.sampled_from(self.holds))
        transfer = Transfer(
            self._id(), 0, 0, None, flags=TransferFlags.VOID_PENDING, pending_id=pending_id
        )
        outcome = self._apply([transfer])[0]
        assert outcome.result in {
            TransferResult.OK,
            TransferResult.PENDING_TRANSFER_ALREADY_POSTED,
            TransferResult.PENDING_TRANSFER_ALREADY_VOIDED,
            TransferResult.PENDING_TRANSFER_EXPIRED,
        }, outcome.result

    @rule(seconds=st.sampled_from([30, 61, 3601]))
    def expire(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.ledger.expire_due()

    @rule(amounts=st.lists(amounts, min_size=2, max_size=3), fail_last=st.booleans())
    def linked(self, amounts: list[int], fail_last: bool) -> None:
        before = self.snapshot()
        transfers = [
            Transfer(self._id(), self.accounts[1], self.accounts[2], a, flags=TransferFlags.LINKED)
            for a in amounts
        ]
        last_amount = 10**13 if fail_last else 1
        transfers.append(Transfer(self._id(), self.accounts[1], self.accounts[0], last_amount))
        outcomes = self._apply(transfers)
        results = {o.result for o in outcomes}
        if TransferResult.OK not in results:
            assert self.snapshot() == before
            assert results <= {
                TransferResult.LINKED_EVENT_FAILED,
                TransferResult.EXCEEDS_CREDITS,
            }, results
        else:
            assert results == {TransferResult.OK}, results

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        original = data.draw(st.sampled_from(self.sent))
        outcome = self._apply([original._replace(flags=original.flags & ~TransferFlags.LINKED)])[0]
        if original.flags & TransferFlags.LINKED:
            assert outcome.result is TransferResult.EXISTS_WITH_DIFFERENT_FLAGS
        else:
            assert outcome.result is TransferResult.EXISTS, outcome.result
            assert outcome.record is not None and outcome.record.id == original.id

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def duplicate_changed(self, data: st.DataObject) -> None:
        original = data.draw(st.sampled_from(self.sent))
        if original.amount_fen is None:
            return
        changed = original._replace(
            amount_fen=original.amount_fen + 1, flags=original.flags & ~TransferFlags.LINKED
        )
        outcome = self._apply([changed])[0]
        assert outcome.result.value.startswith("exists_with_different"), outcome.result

    @rule(amount=weird_amounts, same=st.booleans(), unknown=st.booleans())
    def bad_input(self, amount: int, same: bool, unknown: bool) -> None:
        credit = self.accounts[0] if same else (999_999 if unknown else self.accounts[1])
        outcome = self._apply([Transfer(self._id(), self.accounts[0], credit, amount)])[0]
        assert outcome.result in {
            TransferResult.ACCOUNTS_MUST_BE_DIFFERENT,
            TransferResult.AMOUNT_MUST_BE_POSITIVE,
            TransferResult.AMOUNT_TOO_LARGE,
            TransferResult.CREDIT_ACCOUNT_NOT_FOUND,
        }, outcome.result

    # Invariants, checked after every step --------------------------------------------------

    @invariant()
    def books_balance_and_counters_match_transfers(self) -> None:
        accounts, transfers = self.snapshot()
        if not accounts:
            return
        totals = [sum(c[i] for c in accounts.values()) for i in range(1, 5)]
        debits_pending, debits_posted, credits_pending, credits_posted = totals
        assert debits_posted == credits_posted, "posted books do not balance"
        assert debits_pending == credits_pending, "pending books do not balance"
        expected = {account_id: [0, 0, 0, 0] for account_id in accounts}
        for record in transfers:
            if record.flags & TransferFlags.VOID_PENDING:
                continue
            is_hold = bool(record.flags & TransferFlags.PENDING)
            if is_hold and record.pending_status != "pending":
                continue
            debit_slot, credit_slot = (0, 2) if is_hold else (1, 3)
            expected[record.debit_account_id][debit_slot] += record.amount_fen
            expected[record.credit_account_id][credit_slot] += record.amount_fen
        for account_id, counters in accounts.items():
            assert list(counters[1:]) == expected[account_id], f"account {account_id}"

    @invariant()
    def limits_respected(self) -> None:
        for (
            flags,
            debits_pending,
            debits_posted,
            credits_pending,
            credits_posted,
        ) in self.snapshot()[0].values():
            assert min(debits_pending, debits_posted, credits_pending, credits_posted) >= 0
            if flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
                assert debits_posted + debits_pending <= credits_posted
