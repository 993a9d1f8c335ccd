"""The journal's hash chain, pure: the canonical encoding (golden hashes, so that a change of
encoding is noticed), the documented algorithm re-implemented from the docstring, blocks built
with gaps, and what a replay of one block finds."""

from __future__ import annotations

import hashlib

import pytest

from paybao.domain.ledger_seal import (
    BLOCK_GAP_RANGES_MAX,
    GENESIS_HASH,
    HASH_MISMATCH,
    PREV_HASH_BROKEN,
    RANGE_BROKEN,
    SEQS_NAMED_MAX,
    TRANSFER_MISSING,
    TRANSFER_NOT_IN_BLOCK,
    Block,
    BlockBuilder,
    BlockCheck,
    SealedTransfer,
    block_hash,
    encode_transfer,
    format_gaps,
    header_findings,
    parse_gaps,
)

T0 = 1_790_000_000_000_000
TRANSFERS = (
    SealedTransfer(1, "topup-1", 7, 9, 12_345, "CNY", 101, 0, None, 0, "topup:1", T0, None),
    SealedTransfer(
        2, "hold-钱", 9, 7, 500, "CNY", 202, 2, None, 3600, "trade:ÄÖ", T0 + 1, T0 + 3_600_000_001
    ),
    SealedTransfer(4, "post-1", 9, 7, 1, "CNY", 202, 4, "hold-钱", 0, "", -1, None),
)
GOLDEN_BLOCK_HASH = "dc328e1e8718c4a1b86a7789b07b7fecaad3febfffb78c3b2e792ae732d6dfb9"
# SHA-256 of the third transfer's encoding alone.
GOLDEN_ONE = "ef2e55f9debe27e33ea92bff45c53a3fd60ceaad29dacea15b5fd076589efb09"


def test_genesis_is_the_sha256_of_the_version_tag() -> None:
    assert hashlib.sha256(b"paybao-ledger-seal-v1").hexdigest() == GENESIS_HASH
    assert GENESIS_HASH == "c841400d1f8c8bae66edc64c788020f061cf509b90727e3bb69e9dd037778c68"


def test_encoding_of_one_transfer_is_fixed() -> None:
    encoded = encode_transfer(TRANSFERS[2])
    assert encoded[:9] == b"\x01" + (4).to_bytes(8, "big")  # seq first, tagged int
    assert encoded[9:20] == b"\x02\x00\x00\x00\x06post-1"  # id, tagged length-prefixed text
    assert encoded.endswith(b"\x01" + b"\xff" * 8 + b"\x00")  # created_at -1, expires NULL
    assert hashlib.sha256(encoded).hexdigest() == GOLDEN_ONE


def test_block_hash_of_a_fixed_list_is_golden() -> None:
    assert block_hash(GENESIS_HASH, TRANSFERS) == GOLDEN_BLOCK_HASH


def _documented(prev_hash: str, rows: tuple[tuple[object, ...], ...]) -> str:
    """The check as the module docstring spells it out for a third party."""
    h = hashlib.sha256(bytes.fromhex(prev_hash))
    for row in rows:
        for v in row:
            if v is None:
                h.update(b"\0")
            elif isinstance(v, int):
                h.update(b"\1" + v.to_bytes(8, "big", signed=True))
            else:
                assert isinstance(v, str)
                b = v.encode()
                h.update(b"\2" + len(b).to_bytes(4, "big") + b)
    return h.hexdigest()


def test_the_documented_algorithm_gives_the_same_hash() -> None:
    rows = tuple(tuple(t) for t in TRANSFERS)
    assert _documented(GENESIS_HASH, rows) == block_hash(GENESIS_HASH, TRANSFERS)


@pytest.mark.parametrize(
    "changed",
    [
        TRANSFERS[0]._replace(amount_fen=12_346),
        TRANSFERS[0]._replace(pending_id=""),  # NULL and "" differ
        TRANSFERS[0]._replace(id="topup-", reference="1topup:1"),  # no shifting across fields
        TRANSFERS[0]._replace(seq=3),
    ],
)
def test_every_field_counts(changed: SealedTransfer) -> None:
    assert block_hash(GENESIS_HASH, [changed]) != block_hash(GENESIS_HASH, TRANSFERS[:1])


def test_gaps_round_trip_and_refuse_disorder() -> None:
    assert format_gaps([(3, 3), (5, 9)]) == "3,5-9"
    assert parse_gaps("3,5-9") == ((3, 3), (5, 9))
    assert parse_gaps("") == ()
    for bad in ("5-3", "3,3", "4,5", "x", "3,,5"):
        with pytest.raises(ValueError):
            parse_gaps(bad)


def _built(transfers: tuple[SealedTransfer, ...], from_seq: int = 1) -> Block:
    builder = BlockBuilder(block_no=1, from_seq=from_seq, prev_hash=GENESIS_HASH)
    for transfer in transfers:
        builder.add(transfer)
    return builder.block(sealed_at_us=T0)


def test_builder_records_the_skipped_seqs_as_gaps() -> None:
    block = _built(TRANSFERS)
    assert (block.from_seq, block.to_seq, block.transfer_count, block.gaps) == (1, 4, 3, "3")
    assert block.hash == GOLDEN_BLOCK_HASH
    assert header_findings(block, None) == []
    late_start = _built(TRANSFERS[2:])
    assert (late_start.gaps, late_start.transfer_count) == ("1-3", 1)


def test_builder_stops_at_its_size_and_at_the_gap_limit() -> None:
    builder = BlockBuilder(block_no=1, from_seq=1, prev_hash=GENESIS_HASH, transfers_max=2)
    builder.add(TRANSFERS[0])
    builder.add(TRANSFERS[1])
    assert builder.full and not builder.accepts(4)
    gappy = BlockBuilder(block_no=1, from_seq=1, prev_hash=GENESIS_HASH)
    for n in range(BLOCK_GAP_RANGES_MAX):
        gappy.add(TRANSFERS[0]._replace(seq=2 * n + 2))  # each opens a gap range
    assert gappy.accepts(gappy.to_seq + 1)  # the next seq opens none
    assert not gappy.accepts(gappy.to_seq + 2)


def _replay(block: Block, stored: tuple[SealedTransfer, ...]) -> list[tuple[str, int | None]]:
    check = BlockCheck(block)
    for transfer in stored:
        check.add(transfer)
    return [(f.code, f.seq) for f in check.finish()]


def test_replay_of_an_intact_block_finds_nothing() -> None:
    assert _replay(_built(TRANSFERS), TRANSFERS) == []


def test_replay_names_an_edit_a_deletion_and_a_transfer_on_a_gap() -> None:
    block = _built(TRANSFERS)
    edited = (TRANSFERS[0]._replace(amount_fen=1), *TRANSFERS[1:])
    assert _replay(block, edited) == [(HASH_MISMATCH, None)]
    deleted = (TRANSFERS[0], TRANSFERS[2])
    assert _replay(block, deleted) == [(HASH_MISMATCH, None), (TRANSFER_MISSING, 2)]
    late = TRANSFERS[2]._replace(seq=3, id="late")
    # The block's own transfers still hash right: only the newcomer is reported.
    assert _replay(block, (*TRANSFERS[:2], late, TRANSFERS[2])) == [(TRANSFER_NOT_IN_BLOCK, 3)]


def test_replay_counts_beyond_the_seqs_it_names() -> None:
    many = tuple(TRANSFERS[0]._replace(seq=n, id=f"t{n}") for n in range(1, 41))
    block = _built(many)
    findings = BlockCheck(block).finish()  # all 40 gone
    missing = [f for f in findings if f.code == TRANSFER_MISSING]
    assert [f.seq for f in missing[:SEQS_NAMED_MAX]] == list(range(1, SEQS_NAMED_MAX + 1))
    assert missing[-1].seq is None and "30 more" in missing[-1].detail


def test_header_checks_link_and_range() -> None:
    first = _built(TRANSFERS)
    second = _built((TRANSFERS[0]._replace(seq=5),), from_seq=5)
    second = Block(2, 5, 5, 1, "", second.hash, first.hash, T0)
    assert header_findings(second, first) == []
    broken = Block(2, 6, 6, 1, "", second.hash, GENESIS_HASH, T0)
    codes = [f.code for f in header_findings(broken, first)]
    assert codes == [PREV_HASH_BROKEN, RANGE_BROKEN]
    miscounted = Block(1, 1, 4, 4, "3", first.hash, GENESIS_HASH, T0)
    assert [f.code for f in header_findings(miscounted, None)] == [RANGE_BROKEN]
