"""The ledger journal's hash chain: canonical bytes of a transfer, block hashes, and the
checks a replay makes. Pure; the sealer and the verifier are services/ledger_seals.py.

Why a chain. `paybao reconcile` proves the sums, but someone with write access to the database
who edits a past transfer's amount together with both accounts' counters, deletes a transfer
pair, or inserts a backdated one, passes every sum check. Sealed transfers cannot be changed
that way without the replay noticing; the chain's head hash, noted somewhere else from time to
time, also catches a rewrite of the whole chain (`paybao ledger verify-chain --anchor N:HASH`).

Blocks, not a hash per transfer. Chaining every transfer to the one before would make every
money transaction wait on one global row. Instead a sweep seals, after the fact, the transfers
past the last sealed `seq` into a block: money writes do not change at all.

Commit order is not seq order. A transaction takes its seq when it inserts and may commit after
a higher seq has committed; a rolled-back one leaves a gap for good. So a block takes only the
transfers that are settled: the sealer walks the transfers after the last sealed seq in seq
order and stops at the first one created less than `SEAL_HORIZON_S` ago. Why that suffices: if
transfer Y (created at c) is visible and X < Y, X took its seq before Y did, and Y took its seq
at most one transaction length T after c; X then commits or rolls back within T more. So by
c + 2T every seq below Y is settled for good. The statement and lock timeouts are 15 s by
default (`PAYBAO_DB_STATEMENT_TIMEOUT_MS`, at most 600 s) and a money transaction is a few
statements; 15 minutes is far above 2T plus the clock skew between hosts. (In the sandbox,
`paybao clock advance` moves created_at_us-time forward at once and so shortens the real
horizon: a transaction in flight across an advance may be reported as below.)

A late commit is reported, never absorbed. A block records its range [from_seq, to_seq] and the
seqs in it that held no transfer when it was sealed (`gaps`, e.g. "4,9-11"); its hash covers
exactly the transfers it held. Ranges tile the seqs from 1 to the head's to_seq without holes,
so a transfer that appears later inside a sealed range (a transaction that outlived the
horizon, or a backdated insert into a gap) is found on replay as `chain_transfer_not_in_block`,
naming its seq, while the block's own hash still checks. It is never sealed into a later block:
the sealer only ever looks past the last sealed seq.

Canonical encoding (version 1), so that a third party can re-implement the check:

* A transfer is 13 fields in this order: seq, id, debit_account_id, credit_account_id,
  amount_fen, currency, code, flags, pending_id, timeout_s, reference, created_at_us,
  expires_at_us. `pending_status` is left out on purpose: a post, void or expiry updates it
  later, and the post or void transfer is itself in the chain.
* Each field is one tagged value: NULL is the byte 0x00; an integer is 0x01 followed by 8 bytes
  big-endian two's complement; a text is 0x02 followed by its UTF-8 length as 4 bytes
  big-endian, then the UTF-8 bytes.
* `hash(block n) = SHA-256(bytes(prev_hash) || transfer_1 || ... || transfer_k)` over the
  block's transfers in seq order, where prev_hash is block n-1's hash and, for block 1,
  `GENESIS_HASH = SHA-256("paybao-ledger-seal-v1")`. Hashes are stored as 64 lowercase hex
  digits; `bytes(prev_hash)` is the 32 raw bytes.

In Python, with `rows` the block's transfers as tuples in that field order:

    h = hashlib.sha256(bytes.fromhex(prev_hash))
    for row in rows:
        for v in row:
            if v is None: h.update(b"\\0")
            elif isinstance(v, int): h.update(b"\\1" + v.to_bytes(8, "big", signed=True))
            else: b = v.encode(); h.update(b"\\2" + len(b).to_bytes(4, "big") + b)
    assert h.hexdigest() == block_hash
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

GENESIS_HASH: Final = hashlib.sha256(b"paybao-ledger-seal-v1").hexdigest()
# Seqs start at 1 (PostgreSQL's sequence and SQLite's rowid alike): block 1 starts there.
FIRST_SEQ: Final = 1
# A transfer is sealed only once it is this old (see the module docstring: > 2 transactions).
SEAL_HORIZON_S: Final = 15 * 60
# A block that is not full waits this long past the horizon to fill up, so that a quiet
# platform makes a block every few minutes rather than one per worker pass.
SEAL_LINGER_S: Final = 5 * 60
# The verifier calls a transfer overdue (the sweep should have sealed it) after this long.
SEAL_OVERDUE_S: Final = SEAL_HORIZON_S + SEAL_LINGER_S + 15 * 60
BLOCK_TRANSFERS_MAX: Final = 5_000
# Rolled-back transactions leave gaps; a block stops early rather than record more ranges.
BLOCK_GAP_RANGES_MAX: Final = 1_000
BLOCKS_PER_PASS_MAX: Final = 4
HASH_HEX_CHARS: Final = 64

# Stable codes of what a replay finds.
HASH_MISMATCH: Final = "chain_hash_mismatch"
PREV_HASH_BROKEN: Final = "chain_prev_hash_broken"
RANGE_BROKEN: Final = "chain_range_broken"
TRANSFER_MISSING: Final = "chain_transfer_missing"
TRANSFER_NOT_IN_BLOCK: Final = "chain_transfer_not_in_block"
TRANSFER_UNSEALED: Final = "chain_transfer_unsealed"
ANCHOR_MISMATCH: Final = "chain_anchor_mismatch"
# Seqs named one by one per block and kind; beyond that one finding says how many more.
SEQS_NAMED_MAX: Final = 10

_NULL: Final = b"\x00"
_INT: Final = b"\x01"
_TEXT: Final = b"\x02"


class SealedTransfer(NamedTuple):
    """The immutable fields of a stored transfer, in encoding order."""

    seq: int
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
    expires_at_us: int | None


def is_hash(text: str) -> bool:
    """64 lowercase hex digits, as hashes are stored."""
    return len(text) == HASH_HEX_CHARS and all(c in "0123456789abcdef" for c in text)


def encode_transfer(transfer: SealedTransfer) -> bytes:
    parts: list[bytes] = []
    for value in transfer:
        if value is None:
            parts.append(_NULL)
        elif isinstance(value, int):
            parts.append(_INT + value.to_bytes(8, "big", signed=True))
        else:
            data = value.encode("utf-8")
            parts.append(_TEXT + len(data).to_bytes(4, "big") + data)
    return b"".join(parts)


class BlockHasher:
    """SHA-256 of a block, fed transfer by transfer (constant memory)."""

    __slots__ = ("_sha",)

    def __init__(self, prev_hash: str) -> None:
        if not is_hash(prev_hash):
            raise ValueError(f"not a SHA-256 in hex: {prev_hash[:80]!r}")
        self._sha = hashlib.sha256(bytes.fromhex(prev_hash))

    def add(self, transfer: SealedTransfer) -> None:
        self._sha.update(encode_transfer(transfer))

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def block_hash(prev_hash: str, transfers: Sequence[SealedTransfer]) -> str:
    hasher = BlockHasher(prev_hash)
    for transfer in transfers:
        hasher.add(transfer)
    return hasher.hexdigest()


# Gaps: ascending, disjoint, inclusive seq ranges, written "4,9-11" ("" for none).
Gaps = tuple[tuple[int, int], ...]


def format_gaps(gaps: Sequence[tuple[int, int]]) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in gaps)


def parse_gaps(text: str) -> Gaps:
    """The ranges of `format_gaps`; ValueError if the text is not in that form."""
    if not text:
        return ()
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        lo_text, _, hi_text = part.partition("-")
        lo, hi = int(lo_text), int(hi_text or lo_text)
        if lo > hi or (ranges and lo <= ranges[-1][1] + 1):
            raise ValueError(f"gap ranges out of order at {part!r}")
        ranges.append((lo, hi))
    return tuple(ranges)


def gap_seq_count(gaps: Gaps) -> int:
    return sum(hi - lo + 1 for lo, hi in gaps)


@dataclass(frozen=True, slots=True)
class Block:
    block_no: int
    from_seq: int
    to_seq: int
    transfer_count: int
    gaps: str
    hash: str
    prev_hash: str
    sealed_at_us: int


@dataclass(slots=True)
class BlockBuilder:
    """The next block, transfer by transfer: seqs ascending from `from_seq`, the seqs skipped
    recorded as gaps. `accepts` says whether one more transfer fits (size, gap ranges)."""

    block_no: int
    from_seq: int
    prev_hash: str
    transfers_max: int = BLOCK_TRANSFERS_MAX
    count: int = 0
    to_seq: int = 0
    first_created_at_us: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    _hasher: BlockHasher | None = None

    def __post_init__(self) -> None:
        assert 0 < self.transfers_max <= BLOCK_TRANSFERS_MAX
        self.to_seq = self.from_seq - 1
        self._hasher = BlockHasher(self.prev_hash)

    def accepts(self, seq: int) -> bool:
        assert seq > self.to_seq, "transfers in seq order"
        if self.count >= self.transfers_max:
            return False
        opens_gap = seq > self.to_seq + 1
        return not opens_gap or len(self.gaps) < BLOCK_GAP_RANGES_MAX

    def add(self, transfer: SealedTransfer) -> None:
        assert self.accepts(transfer.seq) and self._hasher is not None
        if transfer.seq > self.to_seq + 1:
            self.gaps.append((self.to_seq + 1, transfer.seq - 1))
        if self.first_created_at_us is None:
            self.first_created_at_us = transfer.created_at_us
        self._hasher.add(transfer)
        self.to_seq = transfer.seq
        self.count += 1

    @property
    def full(self) -> bool:
        return self.count >= self.transfers_max

    def block(self, sealed_at_us: int) -> Block:
        assert self.count > 0 and self._hasher is not None, "a block holds a transfer"
        return Block(
            block_no=self.block_no,
            from_seq=self.from_seq,
            to_seq=self.to_seq,
            transfer_count=self.count,
            gaps=format_gaps(self.gaps),
            hash=self._hasher.hexdigest(),
            prev_hash=self.prev_hash,
            sealed_at_us=sealed_at_us,
        )


class Finding(NamedTuple):
    """One difference a replay found. `block_no` and `seq` are None where they do not apply."""

    code: str
    block_no: int | None
    seq: int | None
    detail: str

    def line(self) -> str:
        where = [f"block {self.block_no}"] if self.block_no is not None else []
        where += [f"seq {self.seq}"] if self.seq is not None else []
        return f"{self.code}: {' '.join(where)}: {self.detail}"


def header_findings(block: Block, prev: Block | None) -> list[Finding]:
    """What is wrong with a block's own row and its link to the block before (or genesis)."""
    found: list[Finding] = []
    n = block.block_no
    expected_no = prev.block_no + 1 if prev else 1
    expected_from = prev.to_seq + 1 if prev else FIRST_SEQ
    expected_prev = prev.hash if prev else GENESIS_HASH
    if block.prev_hash != expected_prev:
        found.append(
            Finding(PREV_HASH_BROKEN, n, None, f"prev_hash {block.prev_hash} != {expected_prev}")
        )
    if n != expected_no or block.from_seq != expected_from:
        found.append(
            Finding(
                RANGE_BROKEN,
                n,
                None,
                f"block {n} from seq {block.from_seq}; expected block {expected_no}"
                f" from seq {expected_from}",
            )
        )
    try:
        gaps = parse_gaps(block.gaps)
    except ValueError:
        return [*found, Finding(RANGE_BROKEN, n, None, f"gaps not readable: {block.gaps!r}")]
    inside = not gaps or (gaps[0][0] >= block.from_seq and gaps[-1][1] < block.to_seq)
    span = block.to_seq - block.from_seq + 1
    if not inside or span - gap_seq_count(gaps) != block.transfer_count:
        found.append(
            Finding(
                RANGE_BROKEN,
                n,
                None,
                f"seqs {block.from_seq}..{block.to_seq} less gaps {block.gaps!r}"
                f" do not make {block.transfer_count} transfers",
            )
        )
    return found


class BlockCheck:
    """Replays one block: feed its range's stored transfers in seq order, then `finish`.

    A transfer on a gap seq is reported (not in the block) and left out of the hash; a seq the
    block held that is gone is reported (missing); the hash over the rest must match."""

    def __init__(self, block: Block) -> None:
        self.block = block
        # A prev_hash that is not a hash is reported by header_findings; the hash then differs.
        self._hasher = BlockHasher(block.prev_hash if is_hash(block.prev_hash) else "0" * 64)
        try:
            self._gaps = parse_gaps(block.gaps)
        except ValueError:
            self._gaps = ()  # reported by header_findings; hash the range as it is
        self._gap_his = [hi for _lo, hi in self._gaps]
        self._gap_index = 0
        self._next_seq = block.from_seq  # the next seq not yet accounted for
        self.hashed = 0
        self.findings: list[Finding] = []
        self._missing = 0
        self._missing_named = 0
        self._not_in_block = 0

    def _in_gap(self, seq: int) -> bool:
        while self._gap_index < len(self._gaps) and self._gaps[self._gap_index][1] < seq:
            self._gap_index += 1
        if self._gap_index == len(self._gaps):
            return False
        lo, _hi = self._gaps[self._gap_index]
        return lo <= seq

    def _held_between(self, lo: int, hi: int, names_max: int) -> tuple[int, list[int]]:
        """How many seqs in [lo, hi] the block held (were not gaps), and the first few."""
        count = 0
        named: list[int] = []
        seq = lo
        first = bisect.bisect_left(self._gap_his, lo)  # the first gap ending at lo or later
        for gap_lo, gap_hi in (*self._gaps[first:], (hi + 1, hi + 1)):
            top = min(gap_lo - 1, hi)
            if top >= seq:
                count += top - seq + 1
                named.extend(range(seq, top + 1)[: max(names_max - len(named), 0)])
            seq = max(seq, gap_hi + 1)
            if seq > hi:
                break
        return count, named

    def _note_missing(self, lo: int, hi: int) -> None:
        if lo > hi:
            return
        count, named = self._held_between(lo, hi, SEQS_NAMED_MAX - self._missing_named)
        self._missing += count
        self._missing_named += len(named)
        for seq in named:
            self.findings.append(
                Finding(TRANSFER_MISSING, self.block.block_no, seq, "sealed, now gone")
            )

    def add(self, transfer: SealedTransfer) -> None:
        seq = transfer.seq
        assert self.block.from_seq <= seq <= self.block.to_seq and seq >= self._next_seq
        self._note_missing(self._next_seq, seq - 1)
        self._next_seq = seq + 1
        if self._in_gap(seq):
            self._not_in_block += 1
            if self._not_in_block <= SEQS_NAMED_MAX:
                self.findings.append(
                    Finding(
                        TRANSFER_NOT_IN_BLOCK,
                        self.block.block_no,
                        seq,
                        "inside a sealed range but not sealed (committed late, or inserted)",
                    )
                )
            return
        self._hasher.add(transfer)
        self.hashed += 1

    def finish(self) -> list[Finding]:
        self._note_missing(self._next_seq, self.block.to_seq)
        block = self.block
        if self._not_in_block > SEQS_NAMED_MAX:
            more = self._not_in_block - SEQS_NAMED_MAX
            self.findings.append(
                Finding(TRANSFER_NOT_IN_BLOCK, block.block_no, None, f"and {more} more")
            )
        if self._missing > self._missing_named:
            more = self._missing - self._missing_named
            self.findings.append(
                Finding(TRANSFER_MISSING, block.block_no, None, f"and {more} more")
            )
        actual = self._hasher.hexdigest()
        if actual != block.hash:
            detail = f"stored {block.hash}, replayed {actual}"
            if self.hashed != block.transfer_count:
                detail += f" ({self.hashed} transfers, sealed {block.transfer_count})"
            elif not self._missing:
                detail += " (a sealed transfer's fields were changed)"
            self.findings.insert(0, Finding(HASH_MISMATCH, block.block_no, None, detail))
        return self.findings
