"""The chunked AES-256-GCM stream of encrypted backups on its own: round trips at every chunk
edge, and each way a file can be damaged or swapped is refused with its code."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from paybao.adapters import backup_crypto as bc
from paybao.services.backups import BackupFailed

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CHUNK = bc.CHUNK_BYTES_MIN
SEALED = CHUNK + bc.TAG_BYTES


def _plain(size: int) -> bytes:
    return bytes((i * 7 + i // 251) % 256 for i in range(size))


def _seal(plain: bytes, key: bytes = KEY, *, piece: int = 333) -> bytes:
    sink = io.BytesIO()
    writer = bc.EncryptingWriter(sink, key, chunk_bytes=CHUNK)
    for start in range(0, len(plain), piece):  # writes that straddle chunk edges
        assert writer.write(plain[start : start + piece]) == len(plain[start : start + piece])
    writer.close()
    return sink.getvalue()


def _open(sealed: bytes, key: bytes = KEY, *, read: int = -1) -> bytes:
    reader = bc.DecryptingReader(io.BytesIO(sealed), key)
    if read < 0:
        found = reader.read()
    else:
        parts = []
        while part := reader.read(read):
            parts.append(part)
        found = b"".join(parts)
    assert reader.finished
    return found


def _code(sealed: bytes, key: bytes = KEY) -> str:
    with pytest.raises(BackupFailed) as caught:
        _open(sealed, key)
    return caught.value.code


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17])
def test_round_trip_at_every_chunk_edge(size: int) -> None:
    plain = _plain(size)
    sealed = _seal(plain)
    assert sealed.startswith(bc.MAGIC) and bc.is_encrypted(sealed)
    # Full chunks, then a final one of 0..CHUNK bytes: the length is known from the size.
    chunks = max(1, -(-size // CHUNK))
    final_plain = size - (chunks - 1) * CHUNK
    assert len(sealed) == bc.HEADER_BYTES + (chunks - 1) * SEALED + final_plain + bc.TAG_BYTES
    assert _open(sealed) == plain
    assert _open(sealed, read=100) == plain
    assert _open(sealed, read=CHUNK + 5) == plain


def test_the_same_plaintext_seals_differently_each_time() -> None:
    plain = _plain(CHUNK)
    one, two = _seal(plain), _seal(plain)
    assert one != two
    assert plain not in one
    assert _open(one) == _open(two) == plain


def test_a_wrong_key_is_told_apart_from_damage() -> None:
    sealed = _seal(_plain(2 * CHUNK))
    assert _code(sealed, OTHER_KEY) == "backup_key_wrong"


@pytest.mark.parametrize(
    ("offset", "code"),
    [
        (0, "backup_unreadable"),  # magic
        (len(bc.MAGIC), "backup_unreadable"),  # version
        (len(bc.MAGIC) + 1 + 4, "backup_key_wrong"),  # file nonce: other derived keys
        (bc.HEADER_BYTES - 1, "backup_key_wrong"),  # key check
        (bc.HEADER_BYTES, "backup_corrupt"),  # first chunk
        (bc.HEADER_BYTES + SEALED + CHUNK // 2, "backup_corrupt"),  # a middle chunk
        (bc.HEADER_BYTES + SEALED - 1, "backup_corrupt"),  # a tag
        (-1, "backup_corrupt"),  # the final chunk's tag
    ],
)
def test_a_flipped_byte_anywhere_is_refused(offset: int, code: str) -> None:
    sealed = bytearray(_seal(_plain(3 * CHUNK + 100)))
    sealed[offset] ^= 0x01
    assert _code(bytes(sealed)) == code


def test_a_changed_chunk_size_in_the_header_fails_as_associated_data() -> None:
    sealed = bytearray(_seal(_plain(3 * CHUNK)))
    at = len(bc.MAGIC) + 1
    sealed[at : at + 4] = (2 * CHUNK).to_bytes(4, "big")
    assert _code(bytes(sealed)) == "backup_corrupt"


@pytest.mark.parametrize("size", [CHUNK, 3 * CHUNK, 3 * CHUNK + 100])
def test_truncation_is_refused_at_every_chunk_boundary_and_inside(size: int) -> None:
    sealed = _seal(_plain(size))
    cuts = {bc.HEADER_BYTES, bc.HEADER_BYTES + 5, len(sealed) - 1}
    cuts |= {bc.HEADER_BYTES + n * SEALED for n in range(1, size // CHUNK + 1)}
    for cut in sorted(c for c in cuts if c < len(sealed)):
        assert _code(sealed[:cut]) == "backup_corrupt", cut
    assert _code(sealed[: bc.HEADER_BYTES - 1]) == "backup_unreadable"


def test_bytes_after_the_final_chunk_are_refused() -> None:
    sealed = _seal(_plain(2 * CHUNK + 10))
    assert _code(sealed + b"\x00") == "backup_corrupt"
    # A whole chunk appended: still the earlier final chunk is no longer last.
    assert _code(sealed + sealed[bc.HEADER_BYTES : bc.HEADER_BYTES + SEALED]) == "backup_corrupt"


def test_reordered_or_foreign_chunks_are_refused() -> None:
    sealed = _seal(_plain(3 * CHUNK + 10))
    head, rest = sealed[: bc.HEADER_BYTES], sealed[bc.HEADER_BYTES :]
    first, second, tail = rest[:SEALED], rest[SEALED : 2 * SEALED], rest[2 * SEALED :]
    assert _code(head + second + first + tail) == "backup_corrupt"
    other = _seal(_plain(3 * CHUNK + 10))  # same key, another file nonce
    foreign = other[bc.HEADER_BYTES : bc.HEADER_BYTES + SEALED]
    assert _code(head + foreign + second + tail) == "backup_corrupt"


def test_nothing_past_a_damaged_chunk_is_returned() -> None:
    plain = _plain(3 * CHUNK)
    sealed = bytearray(_seal(plain))
    sealed[bc.HEADER_BYTES + SEALED + 3] ^= 0x80  # inside chunk 1
    reader = bc.DecryptingReader(io.BytesIO(bytes(sealed)), KEY)
    assert reader.read(CHUNK) == plain[:CHUNK]
    with pytest.raises(BackupFailed) as caught:
        reader.read(1)
    assert caught.value.code == "backup_corrupt" and "chunk 1" in caught.value.message
    assert not reader.finished


def test_key_files_are_new_private_and_read_raw_or_hex(tmp_path: Path) -> None:
    path = tmp_path / "backup.key"
    bc.new_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = bc.read_key_file(path)
    assert len(key) == bc.KEY_BYTES
    with pytest.raises(BackupFailed) as caught:
        bc.new_key_file(path)
    assert caught.value.code == "backup_key_exists"
    assert bc.read_key_file(path) == key  # untouched
    bc.new_key_file(tmp_path / "second.key")
    assert bc.read_key_file(tmp_path / "second.key") != key
    raw = tmp_path / "raw.key"
    raw.write_bytes(KEY)
    assert bc.read_key_file(raw) == KEY


@pytest.mark.parametrize("body", [b"", b"short", b"ab" * 31 + b"\n", b"zz" * 32, bytes(33)])
def test_a_file_that_is_not_a_key_is_refused(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(body)
    with pytest.raises(BackupFailed) as caught:
        bc.read_key_file(path)
    assert caught.value.code == "backup_key_invalid"
    with pytest.raises(BackupFailed) as missing:
        bc.read_key_file(tmp_path / "absent.key")
    assert missing.value.code == "backup_key_invalid"
