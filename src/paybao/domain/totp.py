"""TOTP (RFC 6238, HMAC-SHA1, 30 s steps, 6 digits) for operators' second factor."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from typing import Final
from urllib.parse import quote

STEP_S: Final = 30
DIGITS: Final = 6
# Accept the previous and next step too: phones' clocks drift.
WINDOW_STEPS: Final = 1


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def code_at(secret_b32: str, step: int) -> str:
    assert step >= 0
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**DIGITS:0{DIGITS}d}"


def matching_step(secret_b32: str, code: str, now_s: int, last_step: int) -> int | None:
    """The step whose code this is (newer than `last_step`, so a code works once), or None."""
    code = code.strip()
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = now_s // STEP_S
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if step > last_step and hmac.compare_digest(code_at(secret_b32, step), code):
            return step
    return None


def provisioning_uri(secret_b32: str, account: str, issuer: str = "paybao") -> str:
    return (
        f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret_b32}"
        f"&issuer={quote(issuer)}&digits={DIGITS}&period={STEP_S}"
    )
