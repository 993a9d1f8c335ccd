"""The user's payment code (付款码): an 18-digit, time-based, offline-computable code.

A device that binds to a wallet gets a random 32-byte seed and a device id (a database
integer). From the seed and the clock alone the device computes a fresh code every minute,
with no network; the merchant's scanner sends the code to us and we must (1) find the device
with one indexed lookup, no scan, and (2) check the code cryptographically.

Layout of the 18 digits::

    PP LLLLLLLLL TTTTTTT
    |  |         +-- 7 digits: HMAC-SHA256(seed, step || locator), dynamic truncation
    |  +------------ 9 digits: the device locator, a keyed permutation of the device id
    +--------------- 2 digits: 25 + (step mod 6), so always 25..30 (Alipay's range)

Arithmetic (write it down, it is the security argument):

* Locator: 9 digits hold 10**9 device ids (0 .. 999,999,999), far beyond a self-hosted
  platform's lifetime bindings. The id is enciphered with a 10-round FF1-style Feistel
  network over the decimal domain (4 + 5 digits), keyed by HMAC-SHA256 of a platform-wide
  key, so codes reveal neither how many devices exist nor which ids are neighbours. The
  platform key never leaves the server: the device receives its 9 locator digits at bind
  time and simply copies them into every code (`encode_with_locator`).
* Step: 60 s. The prefix carries `step mod 6`; a verification window of at most +-2 steps
  spans at most 5 consecutive steps, whose residues mod 6 are distinct, so the prefix names
  exactly one step of the window and the verifier makes ONE comparison per code.
* TOTP: 7 digits, so a guess of the TOTP part for a known locator succeeds with probability
  1e-7 per attempt (the prefix pins the step; the window does not multiply the odds). A
  random 18-digit string must additionally land on a bound device: probability
  bound_devices / 1e9. With the service's limit of failed attempts per device (say 10 per
  day, after which the device's codes need the payment password) an attacker who saw a
  victim's code (and so knows the locator) wins with probability at most 1e-6 per day;
  a blind guesser facing a per-merchant limit does far worse. That is acceptable for a
  channel whose password-free amount is capped at 1,000 CNY per payment.
* The truncation extends RFC 4226's: 8 bytes from the dynamic offset, top bit cleared (63
  bits), reduced mod 10**7; the modulo bias is below 1e-11.

Single use is the service's job: `verify_paycode` returns the step that matched and the
service records `(device_id, step)` (or keeps the last accepted step per device and accepts
only later ones). Because the window reaches one step ahead, a page that has just spent its
code can show the next step's code at once.

Pure: standard library only, and time comes in as `unix_time_s`; nothing here reads a clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from paybao.domain.errors import InvalidInput

SEED_BYTES = 32
STEP_S = 60
PAYCODE_DIGITS = 18
PREFIX_MIN = 25
PREFIX_COUNT = 6  # prefixes 25..30
LOCATOR_DIGITS = 9
TOTP_DIGITS = 7
DEVICE_ID_LIMIT = 10**LOCATOR_DIGITS  # device ids are 0 .. DEVICE_ID_LIMIT - 1
SKEW_STEPS_MAX = 2  # a window of 2*2+1 = 5 steps keeps residues mod 6 distinct
PLATFORM_KEY_BYTES_MIN = 16

FEISTEL_ROUNDS = 10
_FEISTEL_LEFT_DIGITS = LOCATOR_DIGITS // 2  # 4
_FEISTEL_RIGHT_DIGITS = LOCATOR_DIGITS - _FEISTEL_LEFT_DIGITS  # 5
_TOTP_MODULUS = 10_000_000
_LEFT_MODULUS = 10_000
_RIGHT_MODULUS = 100_000
_LOCATOR_KEY_LABEL = b"paybao/paycode/locator/v1"

assert 2 + LOCATOR_DIGITS + TOTP_DIGITS == PAYCODE_DIGITS
assert 2 * SKEW_STEPS_MAX + 1 <= PREFIX_COUNT
assert _TOTP_MODULUS == 10**TOTP_DIGITS
assert _LEFT_MODULUS == 10**_FEISTEL_LEFT_DIGITS and _RIGHT_MODULUS == 10**_FEISTEL_RIGHT_DIGITS


@dataclass(frozen=True, slots=True)
class ParsedPaycode:
    """A syntactically valid code, split; not yet verified."""

    device_id: int
    locator_digits: str
    step_residue: int  # step mod PREFIX_COUNT, read from the prefix
    totp_digits: str


def new_device_seed() -> bytes:
    """A fresh random seed for a newly bound device."""
    return secrets.token_bytes(SEED_BYTES)


def step_of(unix_time_s: int) -> int:
    """The TOTP time-step counter of an instant."""
    assert unix_time_s >= 0, "time before the epoch"
    return unix_time_s // STEP_S


def looks_like_paycode(text: str) -> bool:
    """Cheap shape test for routing scanned text: 18 ASCII digits starting 25..30."""
    return (
        len(text) == PAYCODE_DIGITS
        and text.isascii()
        and text.isdigit()
        and PREFIX_MIN <= int(text[:2]) < PREFIX_MIN + PREFIX_COUNT
    )


# --- locator: a keyed permutation of the device id over 9 decimal digits -------------------


def device_locator_digits(device_id: int, platform_key: bytes) -> str:
    """The 9 digits a device copies into every code; given to the device at bind time."""
    if not 0 <= device_id < DEVICE_ID_LIMIT:
        raise InvalidInput("device id out of the locator range", code="invalid_device_id")
    key = _locator_key(platform_key)
    left, right = _split_halves(device_id)
    for round_index in range(FEISTEL_ROUNDS):
        modulus = _round_modulus(round_index)
        mixed = (left + _round_function(key, round_index, right)) % modulus
        left, right = right, mixed
    locator = _join_halves(left, right)
    assert 0 <= locator < DEVICE_ID_LIMIT
    return f"{locator:0{LOCATOR_DIGITS}d}"


def device_id_from_locator(locator_digits: str, platform_key: bytes) -> int:
    """Invert `device_locator_digits`."""
    assert len(locator_digits) == LOCATOR_DIGITS and locator_digits.isdigit()
    key = _locator_key(platform_key)
    left, right = _split_halves(int(locator_digits))
    for round_index in reversed(range(FEISTEL_ROUNDS)):
        modulus = _round_modulus(round_index)
        left, right = (right - _round_function(key, round_index, left)) % modulus, left
    device_id = _join_halves(left, right)
    assert 0 <= device_id < DEVICE_ID_LIMIT
    return device_id


def _locator_key(platform_key: bytes) -> bytes:
    # A derived key keeps the platform key usable for other purposes without cross-talk.
    if len(platform_key) < PLATFORM_KEY_BYTES_MIN:
        raise ValueError(f"platform key must be at least {PLATFORM_KEY_BYTES_MIN} bytes")
    return hmac.new(platform_key, _LOCATOR_KEY_LABEL, hashlib.sha256).digest()


def _round_modulus(round_index: int) -> int:
    # FF1's alternation: halves of 4 and 5 digits swap roles every round, so an odd digit
    # count still gives an exact permutation without cycle-walking.
    return _LEFT_MODULUS if round_index % 2 == 0 else _RIGHT_MODULUS


def _round_function(key: bytes, round_index: int, half: int) -> int:
    message = bytes([round_index]) + half.to_bytes(4, "big")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:16], "big")


def _join_halves(left: int, right: int) -> int:
    # After an even number of rounds the halves are back to (4-digit left, 5-digit right).
    assert FEISTEL_ROUNDS % 2 == 0
    return left * _RIGHT_MODULUS + right


def _split_halves(value: int) -> tuple[int, int]:
    return divmod(value, _RIGHT_MODULUS)


# --- the time-based part ---------------------------------------------------------------------


def totp_digits(seed: bytes, locator_digits: str, step: int) -> str:
    """HMAC-SHA256(seed, step as 8 bytes big-endian || locator ASCII), truncated to 7 digits."""
    assert len(seed) == SEED_BYTES, "seed must be 32 bytes"
    assert step >= 0
    message = step.to_bytes(8, "big") + locator_digits.encode("ascii")
    digest = hmac.new(seed, message, hashlib.sha256).digest()
    offset = digest[-1] & 0x0F  # RFC 4226 dynamic truncation; offset + 8 <= 23 < 32
    value = int.from_bytes(digest[offset : offset + 8], "big") & 0x7FFF_FFFF_FFFF_FFFF
    return f"{value % _TOTP_MODULUS:0{TOTP_DIGITS}d}"


def paycode_for_step(locator_digits: str, seed: bytes, step: int) -> str:
    """The code of one time step; the browser's paycode.js computes exactly this."""
    _check_locator_digits(locator_digits)
    prefix = PREFIX_MIN + step % PREFIX_COUNT
    code = f"{prefix}{locator_digits}{totp_digits(seed, locator_digits, step)}"
    assert looks_like_paycode(code)
    return code


def encode_with_locator(locator_digits: str, seed: bytes, unix_time_s: int) -> str:
    """The code a device shows at `unix_time_s`, from its locator digits and seed only."""
    return paycode_for_step(locator_digits, seed, step_of(unix_time_s))


def encode_paycode(device_id: int, seed: bytes, unix_time_s: int, platform_key: bytes) -> str:
    """Server-side convenience (tests, sandbox): the code of `device_id` at `unix_time_s`."""
    locator = device_locator_digits(device_id, platform_key)
    return encode_with_locator(locator, seed, unix_time_s)


def _check_locator_digits(locator_digits: str) -> None:
    if not (
        len(locator_digits) == LOCATOR_DIGITS
        and locator_digits.isascii()
        and locator_digits.isdigit()
    ):
        raise InvalidInput("locator must be 9 digits", code="invalid_locator")


# --- the scanner side ------------------------------------------------------------------------


def parse_paycode(code: str, platform_key: bytes) -> ParsedPaycode:
    """Split a scanned code and recover the device id; raises `invalid_paycode` on bad shape."""
    code = code.strip()
    if not looks_like_paycode(code):
        raise InvalidInput("not a payment code", code="invalid_paycode")
    locator = code[2 : 2 + LOCATOR_DIGITS]
    parsed = ParsedPaycode(
        device_id=device_id_from_locator(locator, platform_key),
        locator_digits=locator,
        step_residue=int(code[:2]) - PREFIX_MIN,
        totp_digits=code[2 + LOCATOR_DIGITS :],
    )
    assert len(parsed.totp_digits) == TOTP_DIGITS
    return parsed


def verify_paycode(
    parsed: ParsedPaycode, seed: bytes, unix_time_s: int, skew_steps: int = 1
) -> int | None:
    """The time step the code was made for, if it is valid within +-`skew_steps`; else None.

    The prefix names one candidate step in the window, so exactly one HMAC is compared
    (in constant time). The caller must still refuse a `(device_id, step)` seen before.
    """
    if not 0 <= skew_steps <= SKEW_STEPS_MAX:
        raise ValueError(f"skew_steps must be within 0..{SKEW_STEPS_MAX}")
    step = _candidate_step(parsed.step_residue, step_of(unix_time_s), skew_steps)
    if step is None:
        return None
    expected = totp_digits(seed, parsed.locator_digits, step)
    if hmac.compare_digest(expected, parsed.totp_digits):
        return step
    return None


def _candidate_step(step_residue: int, now_step: int, skew_steps: int) -> int | None:
    """The unique step within now +- skew whose residue matches the prefix, if any."""
    offset = (step_residue - now_step) % PREFIX_COUNT  # 0..5 steps ahead of now
    if offset <= skew_steps:
        candidate = now_step + offset
    elif offset >= PREFIX_COUNT - skew_steps:
        candidate = now_step + offset - PREFIX_COUNT
    else:
        return None
    assert abs(candidate - now_step) <= skew_steps and candidate % PREFIX_COUNT == step_residue
    return candidate if candidate >= 0 else None
