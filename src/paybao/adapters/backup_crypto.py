"""Encrypted backup archives: AES-256-GCM in chunks, streamed (a dump of many GB never sits in
memory), every chunk authenticated, truncation and reordering detected.

File layout (all integers big-endian):

    header   magic "PAYBAOBK" | version 1 (1 byte) | chunk_bytes (4) | file nonce (32)
             | key check (16)
    chunks   AES-256-GCM(plaintext of chunk_bytes) + 16-byte tag, ..., final chunk (0 ..
             chunk_bytes of plaintext) + tag

Per file, HKDF-SHA256(key, salt=file nonce) gives a file key, a 7-byte nonce prefix and the key
check. Chunk i is sealed under nonce = prefix | i (4 bytes) | final flag (1 byte), with the whole
header as associated data (the "STREAM" construction of Hoang, Reyhanitabar, Rogaway and Vizár,
as in Tink's streaming AEAD): a flipped bit fails that chunk's tag, a moved or repeated chunk
fails on its counter, a file cut at a chunk boundary ends in a chunk that was not sealed as the
final one, and bytes after the final chunk are refused. The key check says "wrong key" apart
from "damaged data" (and commits the file to its key, which GCM alone does not).

The key file holds 32 random bytes, raw or as 64 hex digits (what `new_key_file` writes).
"""

from __future__ import annotations

import hmac
import os
import secrets
import struct
from pathlib import Path
from typing import IO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from paybao.services.backups import BackupFailed

MAGIC: Final = b"PAYBAOBK"
VERSION: Final = 1
ALGORITHM: Final = "aes-256-gcm-stream/1"
KEY_BYTES: Final = 32
FILE_NONCE_BYTES: Final = 32
KEY_CHECK_BYTES: Final = 16
NONCE_PREFIX_BYTES: Final = 7
TAG_BYTES: Final = 16
_HEADER: Final = struct.Struct(f">{len(MAGIC)}sBI{FILE_NONCE_BYTES}s{KEY_CHECK_BYTES}s")
HEADER_BYTES: Final = _HEADER.size
CHUNK_BYTES_DEFAULT: Final = 1 << 20
CHUNK_BYTES_MIN: Final = 1 << 10
CHUNK_BYTES_MAX: Final = 1 << 24
CHUNKS_MAX: Final = (1 << 32) - 1
_INFO: Final = b"paybao backup " + ALGORITHM.encode()


def is_encrypted(head: bytes) -> bool:
    """Whether a file starting with `head` is one of ours (magic bytes, not the file's name)."""
    return head.startswith(MAGIC)


# --- key files ------------------------------------------------------------------------------


def new_key_file(path: Path) -> None:
    """Write 32 fresh random bytes as hex to a new file (mode 0600); never overwrite."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupFailed(
            f"{path} already exists; a key file is never overwritten", code="backup_key_exists"
        ) from None
    except OSError as error:
        raise BackupFailed(f"cannot create {path}: {error}", code="backup_key_unwritable") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_key_file(path: Path) -> bytes:
    """The 32-byte key in `path`: raw bytes, or 64 hex digits (surrounding white space ok)."""
    try:
        with path.open("rb") as handle:
            body = handle.read(4 * KEY_BYTES + 1)
    except OSError as error:
        raise BackupFailed(
            f"cannot read the backup key file {path}: {error.strerror}", code="backup_key_invalid"
        ) from None
    if len(body) == KEY_BYTES:
        return body
    try:
        key = bytes.fromhex(body.strip().decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise BackupFailed(
            f"{path} is not a backup key: it must hold {KEY_BYTES} bytes, raw or as"
            f" {2 * KEY_BYTES} hex digits (`paybao db backup-key new PATH` makes one)",
            code="backup_key_invalid",
        )
    return key


# --- the stream -----------------------------------------------------------------------------


class _Keys:
    def __init__(self, key: bytes, file_nonce: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise BackupFailed(f"a backup key has {KEY_BYTES} bytes", code="backup_key_invalid")
        material = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES + NONCE_PREFIX_BYTES + KEY_CHECK_BYTES,
            salt=file_nonce,
            info=_INFO,
        ).derive(key)
        self.aead = AESGCM(material[:KEY_BYTES])
        self.prefix = material[KEY_BYTES : KEY_BYTES + NONCE_PREFIX_BYTES]
        self.check = material[KEY_BYTES + NONCE_PREFIX_BYTES :]

    def nonce(self, counter: int, final: bool) -> bytes:
        if counter > CHUNKS_MAX:
            raise BackupFailed("the archive has too many chunks", code="backup_too_large")
        return self.prefix + struct.pack(">IB", counter, 1 if final else 0)


class EncryptingWriter:
    """A write-only file object: what is written comes out sealed, chunk by chunk, into
    `sink`. `close()` seals the final chunk (it does not close `sink`)."""

    def __init__(
        self, sink: IO[bytes], key: bytes, *, chunk_bytes: int = CHUNK_BYTES_DEFAULT
    ) -> None:
        if not CHUNK_BYTES_MIN <= chunk_bytes <= CHUNK_BYTES_MAX:
            raise ValueError(f"chunk_bytes must be {CHUNK_BYTES_MIN}..{CHUNK_BYTES_MAX}")
        file_nonce = secrets.token_bytes(FILE_NONCE_BYTES)
        self._keys = _Keys(key, file_nonce)
        self._header = _HEADER.pack(MAGIC, VERSION, chunk_bytes, file_nonce, self._keys.check)
        self._sink = sink
        self._chunk_bytes = chunk_bytes
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        sink.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed backup stream")
        self._buffer += data
        # Keep up to one chunk back: only close() knows which chunk is the final one.
        if len(self._buffer) > self._chunk_bytes:
            view = memoryview(self._buffer)
            start = 0
            while len(self._buffer) - start > self._chunk_bytes:
                self._seal(view[start : start + self._chunk_bytes], final=False)
                start += self._chunk_bytes
            view.release()
            del self._buffer[:start]
        return len(data)

    def flush(self) -> None:
        self._sink.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._seal(memoryview(self._buffer), final=True)
        self._buffer = bytearray()
        self._closed = True
        self._sink.flush()

    @property
    def closed(self) -> bool:
        return self._closed

    def _seal(self, plain: memoryview, *, final: bool) -> None:
        nonce = self._keys.nonce(self._counter, final)
        self._sink.write(self._keys.aead.encrypt(nonce, bytes(plain), self._header))
        self._counter += 1


class DecryptingReader:
    """A read-only file object over a sealed stream. Every byte it returns was authenticated;
    it raises `BackupFailed` (`backup_key_wrong`, `backup_corrupt`, `backup_unreadable`) as
    soon as something does not open, and `finished` is true only once the final chunk opened
    and nothing followed it."""

    def __init__(self, source: IO[bytes], key: bytes) -> None:
        header = source.read(HEADER_BYTES)
        if len(header) < HEADER_BYTES or not is_encrypted(header):
            raise BackupFailed(
                "not an encrypted paybao backup (header missing)", code="backup_unreadable"
            )
        _magic, version, chunk_bytes, file_nonce, check = _HEADER.unpack(header)
        if version != VERSION:
            raise BackupFailed(
                f"encrypted with format version {version}; this paybao reads {VERSION}",
                code="backup_unreadable",
            )
        if not CHUNK_BYTES_MIN <= chunk_bytes <= CHUNK_BYTES_MAX:
            raise BackupFailed("the encryption header is damaged", code="backup_corrupt")
        self._keys = _Keys(key, file_nonce)
        if not hmac.compare_digest(self._keys.check, check):
            raise BackupFailed(
                "the key does not open this backup (another key, or a damaged header)",
                code="backup_key_wrong",
            )
        self._header = header
        self._source = source
        self._sealed_bytes = chunk_bytes + TAG_BYTES
        self._next = source.read(self._sealed_bytes)
        self._plain = b""
        self._offset = 0
        self._counter = 0
        self.finished = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._plain[self._offset :]]
            self._plain, self._offset = b"", 0
            while not self.finished:
                parts.append(self._open_next())
            return b"".join(parts)
        while len(self._plain) - self._offset < size and not self.finished:
            rest = self._plain[self._offset :]
            self._plain, self._offset = rest + self._open_next(), 0
        taken = self._plain[self._offset : self._offset + size]
        self._offset += len(taken)
        return taken

    def _open_next(self) -> bytes:
        sealed = self._next
        if len(sealed) < TAG_BYTES:
            raise BackupFailed(
                f"the archive is truncated (it ends before its final chunk, at chunk"
                f" {self._counter})",
                code="backup_corrupt",
            )
        # The chunk that nothing follows must be the one sealed as final.
        self._next = (
            self._source.read(self._sealed_bytes) if len(sealed) == self._sealed_bytes else b""
        )
        final = self._next == b""
        try:
            plain = self._keys.aead.decrypt(
                self._keys.nonce(self._counter, final), sealed, self._header
            )
        except InvalidTag:
            where = "truncated or damaged at its end" if final else "damaged"
            raise BackupFailed(
                f"the archive is {where} (chunk {self._counter} does not authenticate)",
                code="backup_corrupt",
            ) from None
        self._counter += 1
        self.finished = final
        return plain
