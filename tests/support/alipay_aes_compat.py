"""The official SDK's AES code, made to run on Python 3 the way it ran on Python 2.

alipay-sdk-python's util/EncryptUtils.py (3.7.1411, the newest) hands `str` values to
`Crypto.Cipher.AES`: the IV `'\\0' * 16` and the padded text. PyCrypto on Python 2 took them
as bytes; pycryptodome on Python 3 refuses them ("Object type <class 'str'> cannot be passed to
C code", alipay-sdk-python-all issue #5 and pull request #34), so every merchant using AES with
this SDK on Python 3 runs it with this conversion. `python2_style_aes` is that conversion and
nothing more: the SDK's own padding, base64, signing, response cutting and verification all
run unchanged. The padded text is encoded in the client's charset, in which the SDK measured
its length for the padding.
"""

from __future__ import annotations

from typing import Any

import pytest
from alipay.aop.api.util import EncryptUtils
from Crypto.Cipher import AES


def _as_bytes(value: Any, charset: str) -> Any:
    return value.encode(charset) if isinstance(value, str) else value


class _Cipher:
    def __init__(self, cipher: Any, charset: str) -> None:
        self._cipher = cipher
        self._charset = charset

    def encrypt(self, data: Any) -> bytes:
        return bytes(self._cipher.encrypt(_as_bytes(data, self._charset)))

    def decrypt(self, data: Any) -> bytes:
        return bytes(self._cipher.decrypt(_as_bytes(data, self._charset)))


class _Python2StyleAES:
    block_size = AES.block_size
    MODE_CBC = AES.MODE_CBC

    def __init__(self, charset: str) -> None:
        self._charset = charset

    def new(self, key: Any, mode: int, iv: Any) -> _Cipher:
        return _Cipher(AES.new(key, mode, _as_bytes(iv, "latin-1")), self._charset)


def python2_style_aes(monkeypatch: pytest.MonkeyPatch, charset: str = "utf-8") -> None:
    """Let EncryptUtils' AES calls take str, as they did under Python 2 (module docstring)."""
    monkeypatch.setattr(EncryptUtils, "AES", _Python2StyleAES(charset))
