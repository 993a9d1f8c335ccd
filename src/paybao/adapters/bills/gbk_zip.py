"""Zips the way Alipay's bill downloads are: entry names in GBK, without the UTF-8 flag.

Python's `zipfile` writes non-ASCII names as UTF-8 and sets flag bit 11; merchants' tools (and
Windows Explorer in China) read names as GBK instead. `ZipInfo` has no public switch for this,
so `_GbkZipInfo` overrides the one private method that encodes the name. Readers decode with
`zipfile.ZipFile(..., metadata_encoding="gbk")`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

UTF8_NAME_FLAG = 0x800
ZIP_DATE_TIME = (2000, 1, 1, 0, 0, 0)  # fixed, so the same bill always zips to the same bytes
ENTRY_SIZE_BYTES_MAX = 256 * 1024 * 1024


class _GbkZipInfo(zipfile.ZipInfo):
    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("gbk"), self.flag_bits & ~UTF8_NAME_FLAG


def gbk_zip(entries: Sequence[tuple[str, bytes]]) -> bytes:
    """A deflated zip of (name, content) entries, names written in GBK."""
    assert entries, "a bill zip has at least one file"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            assert len(content) <= ENTRY_SIZE_BYTES_MAX
            info = _GbkZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def read_gbk_zip(data: bytes) -> dict[str, bytes]:
    """The entries of a bill zip by their (GBK-decoded) names: for tests and the portal."""
    with zipfile.ZipFile(io.BytesIO(data), metadata_encoding="gbk") as archive:
        return {name: archive.read(name) for name in archive.namelist()}
