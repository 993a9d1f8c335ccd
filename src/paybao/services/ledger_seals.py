"""Sealing the ledger's journal into a hash chain, and replaying the chain to verify it.

The rules (encoding, horizon, gaps, what a replay reports) are domain/ledger_seal.py. Here:

* `seal_due` is the worker's sweep: it seals the settled transfers past the last sealed seq,
  a full block at once, a partial one when it has lingered. `seal_now` (the CLI) seals every
  settled transfer without waiting for a block to fill.
* Sealing never locks a ledger row: the transfers are read in a read transaction; the block is
  then inserted in a short write transaction that first checks the head is still the one it
  built on (compare-and-set). Two sealers racing both build block n+1 on block n; the primary
  key lets one insert it, the other's retry sees the new head and gives up this pass. So the
  chain cannot fork and money writes wait on nothing.
* `verify` replays every block from genesis in pages (bounded memory, one block's transfers
  at most `PAGE_TRANSFERS` at a time), each page in a read transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final, Protocol

from paybao.domain.ledger_seal import (
    ANCHOR_MISMATCH,
    BLOCK_TRANSFERS_MAX,
    BLOCKS_PER_PASS_MAX,
    FIRST_SEQ,
    GENESIS_HASH,
    SEAL_HORIZON_S,
    SEAL_LINGER_S,
    SEAL_OVERDUE_S,
    SEQS_NAMED_MAX,
    TRANSFER_NOT_IN_BLOCK,
    TRANSFER_UNSEALED,
    Block,
    BlockBuilder,
    BlockCheck,
    Finding,
    SealedTransfer,
    header_findings,
    is_hash,
)
from paybao.services.ports import Clock, Database, Tx

log = logging.getLogger(__name__)
PAGE_TRANSFERS: Final = 1_000
PAGE_BLOCKS: Final = 100
FINDINGS_MAX: Final = 1_000
ANCHORS_MAX: Final = 100
_US: Final = 1_000_000


class SealStore(Protocol):
    def head(self, tx: Tx) -> Block | None: ...

    def transfers_after(
        self, tx: Tx, after_seq: int, upto_seq: int | None, limit: int
    ) -> list[SealedTransfer]:
        """Transfers with after_seq < seq (<= upto_seq), in seq order, at most `limit`."""
        ...

    def nth_after(self, tx: Tx, after_seq: int, n: int) -> SealedTransfer | None:
        """The n-th transfer (from 1) past after_seq in seq order, if there are that many."""
        ...

    def insert_block(self, tx: Tx, block: Block) -> None: ...

    def blocks_after(self, tx: Tx, after_block_no: int, limit: int) -> list[Block]: ...

    def seqs_below(self, tx: Tx, seq: int, limit: int) -> list[int]: ...

    def unsealed(self, tx: Tx, after_seq: int, created_before_us: int) -> tuple[int, int, int]:
        """(transfers past after_seq, those created before created_before_us, the lowest
        seq of these or 0)."""
        ...


@dataclass(frozen=True, slots=True)
class ChainHead:
    block_no: int  # 0: nothing sealed yet
    hash: str  # GENESIS_HASH when nothing is sealed
    to_seq: int
    unsealed_count: int  # transfers past to_seq


@dataclass(slots=True)
class ChainReport:
    blocks_checked: int = 0
    transfers_checked: int = 0
    head_block_no: int = 0
    head_hash: str = GENESIS_HASH
    head_to_seq: int = 0
    unsealed_count: int = 0
    findings: list[Finding] = field(default_factory=list)
    findings_total: int = 0  # beyond FINDINGS_MAX only counted

    @property
    def clean(self) -> bool:
        return self.findings_total == 0

    def note(self, found: Sequence[Finding]) -> None:
        self.findings_total += len(found)
        room = FINDINGS_MAX - len(self.findings)
        self.findings.extend(found[: max(room, 0)])


class LedgerSeals:
    def __init__(
        self,
        db: Database,
        store: SealStore,
        clock: Clock,
        *,
        horizon_s: int = SEAL_HORIZON_S,
        linger_s: int = SEAL_LINGER_S,
        transfers_max: int = BLOCK_TRANSFERS_MAX,
    ) -> None:
        assert horizon_s >= 0 and linger_s >= 0 and 0 < transfers_max <= BLOCK_TRANSFERS_MAX
        self.db = db
        self.store = store
        self.clock = clock
        self.horizon_s = horizon_s
        self.linger_s = linger_s
        self.transfers_max = transfers_max

    # Sealing ------------------------------------------------------------------------------

    def seal_due(self) -> int:
        """The sweep: seal full blocks, and a partial one that has waited long enough.
        Returns how many transfers it sealed (0: nothing due, or another sealer was first)."""
        return self._seal(BLOCKS_PER_PASS_MAX, wait_to_fill=True)

    def seal_now(self, blocks_max: int = BLOCKS_PER_PASS_MAX) -> int:
        """Seal every settled transfer (up to `blocks_max` blocks), full or not."""
        assert 0 < blocks_max <= 1_000
        return self._seal(blocks_max, wait_to_fill=False)

    def _seal(self, blocks_max: int, *, wait_to_fill: bool) -> int:
        sealed = 0
        for _ in range(blocks_max):
            now_us = self.clock.now_us()
            built = self._build(now_us, wait_to_fill=wait_to_fill)
            if built is None:
                break
            block = built.block(now_us)
            if not self.db.run(partial(self._insert_if_head, block=block)):
                break  # another sealer moved the head: it carries on
            sealed += block.transfer_count
            if not built.full:
                break  # everything settled is sealed
        return sealed

    def _build(self, now_us: int, *, wait_to_fill: bool) -> BlockBuilder | None:
        """The next block from the settled transfers past the head, read without locks; None
        if there is none (or, `wait_to_fill`, only a partial one that may still grow)."""
        settled_before_us = now_us - self.horizon_s * _US
        lingered_before_us = settled_before_us - self.linger_s * _US
        with self.db.read() as tx:
            head = self.store.head(tx)
            if head is not None and not is_hash(head.hash):
                # Someone wrote the table by hand: sealing on it would only hide that.
                log.error("ledger seal block %d has no valid hash: not sealing", head.block_no)
                return None
            builder = BlockBuilder(
                block_no=head.block_no + 1 if head else 1,
                from_seq=head.to_seq + 1 if head else FIRST_SEQ,
                prev_hash=head.hash if head else GENESIS_HASH,
                transfers_max=self.transfers_max,
            )
            # One row first: on a quiet or caught-up journal that is the whole pass.
            first = self.store.transfers_after(tx, builder.to_seq, None, 1)
            if not first or first[0].created_at_us >= settled_before_us:
                return None
            if wait_to_fill and first[0].created_at_us >= lingered_before_us:
                # Young: worth reading only if a full block is settled already.
                last = self.store.nth_after(tx, builder.to_seq, self.transfers_max)
                if last is None or last.created_at_us >= settled_before_us:
                    return None
            rows = first
            while rows:
                for row in rows:
                    if row.created_at_us >= settled_before_us or not builder.accepts(row.seq):
                        return builder
                    builder.add(row)
                room = self.transfers_max - builder.count
                if room == 0:
                    break
                rows = self.store.transfers_after(
                    tx, builder.to_seq, None, min(PAGE_TRANSFERS, room)
                )
        return builder

    def _insert_if_head(self, tx: Tx, *, block: Block) -> bool:
        head = self.store.head(tx)
        head_no, head_hash = (head.block_no, head.hash) if head else (0, GENESIS_HASH)
        if head_no + 1 != block.block_no or head_hash != block.prev_hash:
            return False
        self.store.insert_block(tx, block)
        return True

    # Reading ------------------------------------------------------------------------------

    def head(self) -> ChainHead:
        """The last block and how many transfers are not sealed yet (cheap: no replay)."""
        with self.db.read() as tx:
            block = self.store.head(tx)
            to_seq = block.to_seq if block else 0
            unsealed, _overdue, _first = self.store.unsealed(tx, to_seq, 0)
        if block is None:
            return ChainHead(0, GENESIS_HASH, 0, unsealed)
        return ChainHead(block.block_no, block.hash, block.to_seq, unsealed)

    def verify(self, anchors: Mapping[int, str] | None = None) -> ChainReport:
        """Replay the chain from genesis; every difference is a finding with a stable code.

        `anchors` maps block numbers to hashes noted elsewhere earlier: a chain rewritten
        from some block on, hashes and all, still differs from them."""
        anchors = dict(anchors or {})
        assert len(anchors) <= ANCHORS_MAX
        report = ChainReport()
        prev: Block | None = None
        while True:
            with self.db.read() as tx:
                blocks = self.store.blocks_after(tx, prev.block_no if prev else 0, PAGE_BLOCKS)
            for block in blocks:
                if prev is None:
                    self._check_below(report, block.from_seq)
                report.note(header_findings(block, prev))
                report.note(self._replay(block, report))
                expected = anchors.pop(block.block_no, None)
                if expected is not None and expected.lower() != block.hash:
                    report.note(
                        [
                            Finding(
                                ANCHOR_MISMATCH,
                                block.block_no,
                                None,
                                f"noted {expected.lower()}, stored {block.hash}",
                            )
                        ]
                    )
                report.blocks_checked += 1
                prev = block
            if len(blocks) < PAGE_BLOCKS:
                break
        for block_no, expected in sorted(anchors.items()):
            report.note(
                [Finding(ANCHOR_MISMATCH, block_no, None, f"noted {expected}, block not found")]
            )
        if prev is None:
            self._check_below(report, FIRST_SEQ)
        else:
            report.head_block_no, report.head_hash = prev.block_no, prev.hash
            report.head_to_seq = prev.to_seq
        self._check_unsealed(report)
        return report

    def _replay(self, block: Block, report: ChainReport) -> list[Finding]:
        check = BlockCheck(block)
        after = block.from_seq - 1
        while True:
            with self.db.read() as tx:
                rows = self.store.transfers_after(tx, after, block.to_seq, PAGE_TRANSFERS)
            for row in rows:
                check.add(row)
            report.transfers_checked += len(rows)
            if len(rows) < PAGE_TRANSFERS:
                break
            after = rows[-1].seq
        return check.finish()

    def _check_below(self, report: ChainReport, from_seq: int) -> None:
        """Transfers below the first block's range: no block could ever hold them."""
        with self.db.read() as tx:
            seqs = self.store.seqs_below(tx, from_seq, SEQS_NAMED_MAX)
        detail = f"seq below the first sealable seq {from_seq} (inserted)"
        report.note([Finding(TRANSFER_NOT_IN_BLOCK, None, seq, detail) for seq in seqs])

    def _check_unsealed(self, report: ChainReport) -> None:
        overdue_before_us = self.clock.now_us() - SEAL_OVERDUE_S * _US
        with self.db.read() as tx:
            unsealed, overdue, first = self.store.unsealed(
                tx, report.head_to_seq, overdue_before_us
            )
            report.unsealed_count = unsealed
        if overdue:
            detail = (
                f"{overdue} transfer(s) older than {SEAL_OVERDUE_S} s not sealed (is the"
                " worker running? `paybao ledger seal` seals now)"
            )
            report.note([Finding(TRANSFER_UNSEALED, None, first, detail)])
