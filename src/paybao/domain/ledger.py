"""The double-entry ledger's rules, after TigerBeetle's accounts and transfers.

An account holds four counters: debits/credits, each pending or posted. A transfer moves
`amount_fen` from its debit account to its credit account, so every transfer balances by
construction and the sum of all balances stays zero. Holds are two-phase: a pending transfer
reserves the amount in the pending counters; a later post (full or partial) or void resolves it,
or it expires after `timeout_s`.

`apply_batch` is the one place where counters change. It is pure: it takes the current state of
the accounts and transfers a batch touches and returns the new state; the database adapter only
loads and stores. Results are listed in descending precedence, as TigerBeetle does: the first
rule a transfer breaks is the one reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntFlag, StrEnum
from typing import Final, NamedTuple

from paybao.domain.errors import InvariantViolation

TRANSFER_ID_LENGTH_MAX: Final = 64
REFERENCE_LENGTH_MAX: Final = 64
# One transfer may move at most 1 trillion yuan; counters are signed 64-bit in both databases.
TRANSFER_AMOUNT_FEN_MAX: Final = 10**14
COUNTER_FEN_MAX: Final = 2**63 - 1
TIMEOUT_S_MAX: Final = 366 * 24 * 3600
BATCH_SIZE_MAX: Final = 8190
LOCK_RANK_MAX: Final = 2


class AccountFlags(IntFlag):
    NONE = 0
    # A liability to a customer (a wallet): it must never go below zero.
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1
    # An asset-side account (a card being charged): it must never go above zero.
    CREDITS_MUST_NOT_EXCEED_DEBITS = 2


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1
    PENDING = 2
    POST_PENDING = 4
    VOID_PENDING = 8


class PendingStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


class TransferResult(StrEnum):
    """Outcome of one transfer, in descending precedence."""

    OK = "ok"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    ID_MUST_NOT_BE_EMPTY = "id_must_not_be_empty"
    ID_TOO_LONG = "id_too_long"
    ID_MUST_BE_PRINTABLE = "id_must_be_printable"
    REFERENCE_TOO_LONG = "reference_too_long"
    REFERENCE_MUST_BE_PRINTABLE = "reference_must_be_printable"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    PENDING_ID_MUST_NOT_BE_EMPTY = "pending_id_must_not_be_empty"
    PENDING_ID_MUST_BE_EMPTY = "pending_id_must_be_empty"
    PENDING_ID_MUST_BE_DIFFERENT = "pending_id_must_be_different"
    PENDING_ID_MUST_BE_PRINTABLE = "pending_id_must_be_printable"
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = "timeout_reserved_for_pending_transfer"
    TIMEOUT_TOO_LARGE = "timeout_too_large"
    DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "debit_account_id_must_not_be_zero"
    CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "credit_account_id_must_not_be_zero"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    AMOUNT_MUST_BE_POSITIVE = "amount_must_be_positive"
    AMOUNT_TOO_LARGE = "amount_too_large"
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_PENDING_ID = "exists_with_different_pending_id"
    EXISTS_WITH_DIFFERENT_TIMEOUT = "exists_with_different_timeout"
    EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID = "exists_with_different_debit_account_id"
    EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID = "exists_with_different_credit_account_id"
    EXISTS_WITH_DIFFERENT_AMOUNT = "exists_with_different_amount"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS_WITH_DIFFERENT_REFERENCE = "exists_with_different_reference"
    EXISTS = "exists"
    DEBIT_ACCOUNT_NOT_FOUND = "debit_account_not_found"
    CREDIT_ACCOUNT_NOT_FOUND = "credit_account_not_found"
    ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY = "accounts_must_have_the_same_currency"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID = (
        "pending_transfer_has_different_debit_account_id"
    )
    PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID = (
        "pending_transfer_has_different_credit_account_id"
    )
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    OVERFLOWS_COUNTER = "overflows_counter"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"

    @property
    def succeeded(self) -> bool:
        """ok and exists both mean: this transfer is in the ledger exactly once."""
        return self in (TransferResult.OK, TransferResult.EXISTS)


@dataclass(slots=True)
class Account:
    id: int
    currency: str
    flags: int = 0
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    # Where the account stands in the global lock order (see `accounts_to_lock`): customers'
    # accounts 0, merchants' 1, the platform's 2. Not a counter: never written back.
    lock_rank: int = LOCK_RANK_MAX

    def copy(self) -> Account:
        return Account(
            self.id,
            self.currency,
            self.flags,
            self.debits_pending,
            self.debits_posted,
            self.credits_pending,
            self.credits_posted,
            self.lock_rank,
        )

    def counters(self) -> tuple[int, int, int, int]:
        return (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted)

    def restore(self, counters: tuple[int, int, int, int]) -> None:
        (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted) = (
            counters
        )

    @property
    def balance_fen(self) -> int:
        """Credit-normal balance (what a wallet holds): credits minus debits, posted only."""
        return self.credits_posted - self.debits_posted

    @property
    def available_fen(self) -> int:
        """What may still be spent: the balance less debits on hold."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    def check_invariants(self) -> None:
        for value in self.counters():
            if not 0 <= value <= COUNTER_FEN_MAX:
                raise InvariantViolation(f"account {self.id}: counter {value} out of range")
        if self.flags & _DEBITS_LIMITED:
            if self.debits_posted + self.debits_pending > self.credits_posted:
                raise InvariantViolation(f"account {self.id}: debits exceed credits")
        if self.flags & _CREDITS_LIMITED:
            if self.credits_posted + self.credits_pending > self.debits_posted:
                raise InvariantViolation(f"account {self.id}: credits exceed debits")


# Plain ints on the hot path: IntFlag arithmetic costs microseconds per operation.
_DEBITS_LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CREDITS_LIMITED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_LINKED = int(TransferFlags.LINKED)
_PENDING = int(TransferFlags.PENDING)
_POST = int(TransferFlags.POST_PENDING)
_VOID = int(TransferFlags.VOID_PENDING)
_RESOLVING = _POST | _VOID
_PHASES = _PENDING | _POST | _VOID


class Transfer(NamedTuple):
    """What a caller asks for. For post/void, accounts may be 0 and are taken from the hold;
    `amount_fen=None` on a post means the full held amount."""

    id: str
    debit_account_id: int
    credit_account_id: int
    amount_fen: int | None
    code: int = 0
    flags: int = 0
    pending_id: str | None = None
    timeout_s: int = 0
    reference: str = ""


class TransferRecord(NamedTuple):
    """A transfer as stored (fields in column order): accounts and amount resolved."""

    id: str
    debit_account_id: int
    credit_account_id: int
    amount_fen: int
    currency: str
    code: int
    flags: int
    pending_id: str | None
    timeout_s: int
    reference: str
    created_at_us: int
    expires_at_us: int | None = None
    pending_status: str | None = None


class TransferOutcome(NamedTuple):
    result: TransferResult
    # The stored record: the new one on ok, the original one on exists.
    record: TransferRecord | None = None


class CounterDelta(NamedTuple):
    """What a batch adds to an account it did not lock (see `accounts_to_lock`)."""

    lock_rank: int  # first: deltas sort into the global lock order
    account_id: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


def counter_delta(before: Account, after: Account) -> CounterDelta:
    assert before.id == after.id
    return CounterDelta(
        after.lock_rank,
        after.id,
        after.debits_pending - before.debits_pending,
        after.debits_posted - before.debits_posted,
        after.credits_pending - before.credits_pending,
        after.credits_posted - before.credits_posted,
    )


@dataclass(slots=True)
class BatchOutcome:
    outcomes: list[TransferOutcome]
    created: list[TransferRecord] = field(default_factory=list)
    # The new state of every account the batch touched.
    accounts: dict[int, Account] = field(default_factory=dict)
    pending_status: dict[str, str] = field(default_factory=dict)


def pending_ids_of(transfers: Iterable[Transfer]) -> set[str]:
    """Holds that a batch posts or voids: the adapter loads and locks them first. Ids that
    could never be stored are not looked up (the rules refuse those transfers anyway)."""
    return {t.pending_id for t in transfers if t.pending_id and t.pending_id.isprintable()}


def account_ids_of(
    transfers: Iterable[Transfer], pendings: Mapping[str, TransferRecord]
) -> set[int]:
    """Every account a batch may touch, including those of the holds it resolves."""
    ids: set[int] = set()
    for transfer in transfers:
        ids.add(transfer.debit_account_id)
        ids.add(transfer.credit_account_id)
        held = pendings.get(transfer.pending_id) if transfer.pending_id else None
        if held is not None:
            ids.add(held.debit_account_id)
            ids.add(held.credit_account_id)
    ids.discard(0)
    return ids


class LockKey(NamedTuple):
    """What a batch must know of an account before loading it to choose its locks."""

    flags: int
    lock_rank: int


def accounts_to_lock(
    transfers: Sequence[Transfer], known: Mapping[int, LockKey], account_ids: Iterable[int]
) -> set[int]:
    """The accounts of a batch to read under a row lock (and write back compare-and-set).
    The others are read without a lock and changed by adding deltas when the batch writes,
    so a hot account (the fee account, bank clearing, a merchant's settlement account) is
    locked only from that write to the commit, not for the whole transaction. Customers'
    accounts are always locked: they are not hot.

    An account must be locked if the batch could break its limit flag: a debit can break
    DEBITS_MUST_NOT_EXCEED_CREDITS, a credit CREDITS_MUST_NOT_EXCEED_DEBITS, unless earlier
    transfers of the same linked chain (all or none) posted at least as much the other way
    (a payment credits the merchant, then takes the fee out of that). Posts and voids never
    raise a limit: a post moves at most the held amount from pending to posted.

    Locks follow one global order, (lock_rank, id): customers' accounts, then merchants',
    then the platform's. Loading locks in that order and writing deltas after, in that
    order, keeps to it only if every account before the last one that must be locked is
    locked too: so those are added. An account not known yet ranks last, so its batch
    locks everything (once; then it is known).
    """
    ids = set(account_ids)
    must = {a for a in ids if a not in known} | _uncovered(transfers, known)
    # Customers' accounts are locked whenever touched: one owner each, so never hot, and one
    # more id in the locking read costs less than the two statements a delta takes.
    must.update(a for a in ids if a in known and known[a].lock_rank == 0)
    if not must:
        return set()
    last = max(_lock_order(a, known) for a in must)
    return {a for a in ids if _lock_order(a, known) <= last}


def _lock_order(account_id: int, known: Mapping[int, LockKey]) -> tuple[int, int]:
    key = known.get(account_id)
    return (LOCK_RANK_MAX + 1 if key is None else key.lock_rank, account_id)


def _uncovered(transfers: Sequence[Transfer], known: Mapping[int, LockKey]) -> set[int]:
    """Flagged accounts whose limit some transfer of the batch could break."""
    found: set[int] = set()
    start, count = 0, len(transfers)
    while start < count:
        end = start
        while end < count - 1 and int(transfers[end].flags) & _LINKED:
            end += 1
        room: dict[tuple[int, int], int] = {}  # (account, limit flag) -> room made so far
        for transfer in transfers[start : end + 1]:
            flags = int(transfer.flags)
            if flags & _RESOLVING:
                continue
            amount_fen = transfer.amount_fen or 0
            sides = (
                (transfer.debit_account_id, _DEBITS_LIMITED, _CREDITS_LIMITED),
                (transfer.credit_account_id, _CREDITS_LIMITED, _DEBITS_LIMITED),
            )
            for account_id, limit, opposite in sides:
                key = known.get(account_id)
                if key is not None and key.flags & limit:
                    left = room.get((account_id, limit), 0) - amount_fen
                    room[(account_id, limit)] = left
                    if left < 0:
                        found.add(account_id)
                if not flags & _PENDING:  # posted: makes room under the opposite limit
                    room[(account_id, opposite)] = room.get((account_id, opposite), 0) + amount_fen
        start = end + 1
    return found


class _Working:
    """The batch's working state. Accounts are copied once, on first touch. Inside a linked
    chain every change is also written to an undo log, so a failed chain can be rolled back;
    a lone transfer changes nothing until all its checks have passed, so it needs no log."""

    def __init__(self, source: Mapping[int, Account], stored: Mapping[str, TransferRecord]):
        self.source = source
        self.accounts: dict[int, Account] = {}
        self.seen: dict[str, TransferRecord] = dict(stored)
        self.pending_status: dict[str, str] = {}
        self.created: list[TransferRecord] = []
        self.undo: list[tuple[Account, tuple[int, int, int, int]]] | None = None
        self.undo_status: list[tuple[str, str | None]] = []
        self.undo_created = 0

    def account(self, account_id: int) -> Account | None:
        account = self.accounts.get(account_id)
        if account is None:
            original = self.source.get(account_id)
            if original is None:
                return None
            account = self.accounts[account_id] = original.copy()
        return account

    def before_change(self, *accounts: Account) -> None:
        if self.undo is not None:
            self.undo.extend((account, account.counters()) for account in accounts)

    def status_of(self, held: TransferRecord) -> str | None:
        return self.pending_status.get(held.id, held.pending_status)

    def set_status(self, transfer_id: str, status: str) -> None:
        if self.undo is not None:
            self.undo_status.append((transfer_id, self.pending_status.get(transfer_id)))
        self.pending_status[transfer_id] = status

    def add(self, record: TransferRecord) -> None:
        self.created.append(record)
        self.seen[record.id] = record

    def begin_chain(self) -> None:
        self.undo, self.undo_status, self.undo_created = [], [], len(self.created)

    def end_chain(self, *, commit: bool) -> None:
        assert self.undo is not None
        if not commit:
            for account, counters in reversed(self.undo):
                account.restore(counters)
            for transfer_id, previous in reversed(self.undo_status):
                if previous is None:
                    del self.pending_status[transfer_id]
                else:
                    self.pending_status[transfer_id] = previous
            for record in self.created[self.undo_created :]:
                del self.seen[record.id]
            del self.created[self.undo_created :]
        self.undo = None


def apply_batch(
    transfers: Sequence[Transfer],
    *,
    accounts: Mapping[int, Account],
    stored: Mapping[str, TransferRecord],
    now_us: int,
) -> BatchOutcome:
    """Apply transfers in order; each linked chain applies all or none.

    `accounts` must hold every account of `account_ids_of(...)` that exists; `stored` every
    stored transfer whose id is a transfer id or pending id of the batch.
    """
    count = len(transfers)
    assert count <= BATCH_SIZE_MAX
    working = _Working(accounts, stored)
    outcomes: list[TransferOutcome] = []
    start = 0
    while start < count:
        end = start
        while end < count and int(transfers[end].flags) & _LINKED:
            end += 1
        if end == count:  # the last chain never closed
            outcomes.extend([_CHAIN_OPEN] * (count - start))
            break
        if end == start:
            outcomes.append(_apply_one(transfers[start], working, now_us))
        else:
            outcomes.extend(_apply_chain(transfers[start : end + 1], working, now_us))
        start = end + 1
    assert len(outcomes) == count
    outcome = BatchOutcome(outcomes, working.created, working.accounts, working.pending_status)
    _check_batch_balances(accounts, outcome)
    return outcome


_CHAIN_OPEN = TransferOutcome(TransferResult.LINKED_EVENT_CHAIN_OPEN)
_CHAIN_FAILED = TransferOutcome(TransferResult.LINKED_EVENT_FAILED)


def _apply_chain(
    chain: Sequence[Transfer], working: _Working, now_us: int
) -> list[TransferOutcome]:
    working.begin_chain()
    results: list[TransferOutcome] = []
    failed = False
    for transfer in chain:
        result = _apply_one(transfer, working, now_us)
        results.append(result)
        if not result.result.succeeded:
            failed = True
            break
    working.end_chain(commit=not failed)
    if not failed:
        return results
    # The failing transfer keeps its own code; the rest of the chain did not happen.
    failed_at = len(results) - 1
    return [results[index] if index == failed_at else _CHAIN_FAILED for index in range(len(chain))]


def _apply_one(transfer: Transfer, working: _Working, now_us: int) -> TransferOutcome:
    result = validate_fields(transfer)
    if result is not TransferResult.OK:
        return TransferOutcome(result)
    existing = working.seen.get(transfer.id)
    if existing is not None:
        return TransferOutcome(compare_with_existing(transfer, existing), existing)
    if int(transfer.flags) & _RESOLVING:
        return _resolve_pending(transfer, working, now_us)
    return _create(transfer, working, now_us)


def validate_fields(transfer: Transfer) -> TransferResult:
    """Checks that need no state: the caller's request is malformed."""
    flags = int(transfer.flags)
    resolving = bool(flags & _RESOLVING)
    if not transfer.id:
        return TransferResult.ID_MUST_NOT_BE_EMPTY
    if len(transfer.id) > TRANSFER_ID_LENGTH_MAX:
        return TransferResult.ID_TOO_LONG
    # Control characters (a NUL byte above all) cannot be stored in PostgreSQL text.
    if not transfer.id.isprintable():
        return TransferResult.ID_MUST_BE_PRINTABLE
    if len(transfer.reference) > REFERENCE_LENGTH_MAX:
        return TransferResult.REFERENCE_TOO_LONG
    if not transfer.reference.isprintable():
        return TransferResult.REFERENCE_MUST_BE_PRINTABLE
    phases = flags & _PHASES
    if phases & (phases - 1):  # more than one phase bit set
        return TransferResult.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if resolving and not transfer.pending_id:
        return TransferResult.PENDING_ID_MUST_NOT_BE_EMPTY
    if not resolving and transfer.pending_id:
        return TransferResult.PENDING_ID_MUST_BE_EMPTY
    if transfer.pending_id == transfer.id:
        return TransferResult.PENDING_ID_MUST_BE_DIFFERENT
    if transfer.pending_id and not transfer.pending_id.isprintable():
        return TransferResult.PENDING_ID_MUST_BE_PRINTABLE
    if transfer.timeout_s != 0 and not flags & _PENDING:
        return TransferResult.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if not 0 <= transfer.timeout_s <= TIMEOUT_S_MAX:
        return TransferResult.TIMEOUT_TOO_LARGE
    if resolving:
        return _validate_resolving_amount(transfer)
    return _validate_plain(transfer)


def _validate_resolving_amount(transfer: Transfer) -> TransferResult:
    if transfer.amount_fen is None:
        return TransferResult.OK
    if transfer.amount_fen <= 0:
        return TransferResult.AMOUNT_MUST_BE_POSITIVE
    if transfer.amount_fen > TRANSFER_AMOUNT_FEN_MAX:
        return TransferResult.AMOUNT_TOO_LARGE
    return TransferResult.OK


def _validate_plain(transfer: Transfer) -> TransferResult:
    if transfer.debit_account_id == 0:
        return TransferResult.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if transfer.credit_account_id == 0:
        return TransferResult.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if transfer.debit_account_id == transfer.credit_account_id:
        return TransferResult.ACCOUNTS_MUST_BE_DIFFERENT
    if transfer.amount_fen is None or transfer.amount_fen <= 0:
        return TransferResult.AMOUNT_MUST_BE_POSITIVE
    if transfer.amount_fen > TRANSFER_AMOUNT_FEN_MAX:
        return TransferResult.AMOUNT_TOO_LARGE
    return TransferResult.OK


def compare_with_existing(transfer: Transfer, existing: TransferRecord) -> TransferResult:
    """Same id again: identical request -> exists; anything changed -> which field."""
    resolving = bool(int(transfer.flags) & _RESOLVING)
    checks: list[tuple[bool, TransferResult]] = [
        (int(transfer.flags) != existing.flags, TransferResult.EXISTS_WITH_DIFFERENT_FLAGS),
        (
            (transfer.pending_id or None) != existing.pending_id,
            TransferResult.EXISTS_WITH_DIFFERENT_PENDING_ID,
        ),
        (transfer.timeout_s != existing.timeout_s, TransferResult.EXISTS_WITH_DIFFERENT_TIMEOUT),
        (
            _differs(transfer.debit_account_id, existing.debit_account_id, resolving),
            TransferResult.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID,
        ),
        (
            _differs(transfer.credit_account_id, existing.credit_account_id, resolving),
            TransferResult.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID,
        ),
        (
            transfer.amount_fen is not None and transfer.amount_fen != existing.amount_fen,
            TransferResult.EXISTS_WITH_DIFFERENT_AMOUNT,
        ),
        (transfer.code != existing.code, TransferResult.EXISTS_WITH_DIFFERENT_CODE),
        (transfer.reference != existing.reference, TransferResult.EXISTS_WITH_DIFFERENT_REFERENCE),
    ]
    for differs, result in checks:
        if differs:
            return result
    return TransferResult.EXISTS


def _differs(asked: int, stored: int, optional: bool) -> bool:
    if optional and asked == 0:
        return False
    return asked != stored


def _create(transfer: Transfer, working: _Working, now_us: int) -> TransferOutcome:
    amount_fen = transfer.amount_fen
    assert amount_fen is not None
    debit = working.account(transfer.debit_account_id)
    if debit is None:
        return TransferOutcome(TransferResult.DEBIT_ACCOUNT_NOT_FOUND)
    credit = working.account(transfer.credit_account_id)
    if credit is None:
        return TransferOutcome(TransferResult.CREDIT_ACCOUNT_NOT_FOUND)
    if debit.currency != credit.currency:
        return TransferOutcome(TransferResult.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY)
    limit = _check_limits(debit, credit, amount_fen)
    if limit is not TransferResult.OK:
        return TransferOutcome(limit)
    pending = int(transfer.flags) & _PENDING
    working.before_change(debit, credit)
    if pending:
        debit.debits_pending += amount_fen
        credit.credits_pending += amount_fen
    else:
        debit.debits_posted += amount_fen
        credit.credits_posted += amount_fen
    timeout_s = transfer.timeout_s
    record = TransferRecord(
        transfer.id,
        debit.id,
        credit.id,
        amount_fen,
        debit.currency,
        transfer.code,
        int(transfer.flags),
        None,
        timeout_s,
        transfer.reference,
        now_us,
        now_us + timeout_s * 1_000_000 if timeout_s else None,
        PendingStatus.PENDING if pending else None,
    )
    working.add(record)
    return TransferOutcome(TransferResult.OK, record)


def _check_limits(debit: Account, credit: Account, amount_fen: int) -> TransferResult:
    debit_total = debit.debits_pending + debit.debits_posted + amount_fen
    credit_total = credit.credits_pending + credit.credits_posted + amount_fen
    if debit_total > COUNTER_FEN_MAX or credit_total > COUNTER_FEN_MAX:
        return TransferResult.OVERFLOWS_COUNTER
    if debit.flags & _DEBITS_LIMITED and debit_total > debit.credits_posted:
        return TransferResult.EXCEEDS_CREDITS
    if credit.flags & _CREDITS_LIMITED and credit_total > credit.debits_posted:
        return TransferResult.EXCEEDS_DEBITS
    return TransferResult.OK


def _resolve_pending(transfer: Transfer, working: _Working, now_us: int) -> TransferOutcome:
    assert transfer.pending_id is not None
    held = working.seen.get(transfer.pending_id)
    if held is None or held.pending_status is None:
        return TransferOutcome(TransferResult.PENDING_TRANSFER_NOT_FOUND)
    problem = _check_resolvable(transfer, held, working.status_of(held), now_us)
    if problem is not TransferResult.OK:
        return TransferOutcome(problem)
    debit = working.account(held.debit_account_id)
    credit = working.account(held.credit_account_id)
    assert debit is not None and credit is not None, "a hold's accounts always exist"
    posting = bool(int(transfer.flags) & _POST)
    amount_fen = (transfer.amount_fen or held.amount_fen) if posting else held.amount_fen
    working.before_change(debit, credit)
    debit.debits_pending -= held.amount_fen
    credit.credits_pending -= held.amount_fen
    if posting:
        debit.debits_posted += amount_fen
        credit.credits_posted += amount_fen
    working.set_status(held.id, PendingStatus.POSTED if posting else PendingStatus.VOIDED)
    record = TransferRecord(
        transfer.id,
        held.debit_account_id,
        held.credit_account_id,
        amount_fen,
        held.currency,
        transfer.code,
        int(transfer.flags),
        held.id,
        0,
        transfer.reference,
        now_us,
    )
    working.add(record)
    return TransferOutcome(TransferResult.OK, record)


def _check_resolvable(
    transfer: Transfer, held: TransferRecord, status: str | None, now_us: int
) -> TransferResult:
    if status == PendingStatus.POSTED:
        return TransferResult.PENDING_TRANSFER_ALREADY_POSTED
    if status == PendingStatus.VOIDED:
        return TransferResult.PENDING_TRANSFER_ALREADY_VOIDED
    if status == PendingStatus.EXPIRED:
        return TransferResult.PENDING_TRANSFER_EXPIRED
    if status != PendingStatus.PENDING:
        return TransferResult.PENDING_TRANSFER_NOT_PENDING
    if held.expires_at_us is not None and held.expires_at_us <= now_us:
        return TransferResult.PENDING_TRANSFER_EXPIRED
    if _differs(transfer.debit_account_id, held.debit_account_id, True):
        return TransferResult.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
    if _differs(transfer.credit_account_id, held.credit_account_id, True):
        return TransferResult.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
    if transfer.amount_fen is None:
        return TransferResult.OK
    if int(transfer.flags) & _VOID and transfer.amount_fen != held.amount_fen:
        return TransferResult.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
    if transfer.amount_fen > held.amount_fen:
        return TransferResult.EXCEEDS_PENDING_TRANSFER_AMOUNT
    return TransferResult.OK


def expire_batch(
    held: Sequence[TransferRecord], *, accounts: Mapping[int, Account], now_us: int
) -> BatchOutcome:
    """Release holds whose timeout has passed. Holds not yet due or not pending are skipped."""
    working = _Working(accounts, {})
    for record in held:
        due = record.expires_at_us is not None and record.expires_at_us <= now_us
        if record.pending_status != PendingStatus.PENDING or not due:
            continue
        debit = working.account(record.debit_account_id)
        credit = working.account(record.credit_account_id)
        assert debit is not None and credit is not None, "a hold's accounts always exist"
        debit.debits_pending -= record.amount_fen
        credit.credits_pending -= record.amount_fen
        working.set_status(record.id, PendingStatus.EXPIRED)
    outcome = BatchOutcome([], [], working.accounts, working.pending_status)
    _check_batch_balances(accounts, outcome)
    return outcome


def _check_batch_balances(before: Mapping[int, Account], outcome: BatchOutcome) -> None:
    """Paired with the per-transfer construction: the batch as a whole must balance."""
    posted_delta = pending_delta = 0
    for account_id, after in outcome.accounts.items():
        after.check_invariants()
        prior = before[account_id]
        posted_delta += (after.debits_posted - prior.debits_posted) - (
            after.credits_posted - prior.credits_posted
        )
        pending_delta += (after.debits_pending - prior.debits_pending) - (
            after.credits_pending - prior.credits_pending
        )
    if posted_delta != 0 or pending_delta != 0:
        raise InvariantViolation(f"batch does not balance: {posted_delta=} {pending_delta=}")
