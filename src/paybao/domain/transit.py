"""Transit ride codes (乘车码): the certificate, the code, offline verification, fares. Pure.

The issuer (this platform) certifies each user's public key for one transit operator; the
phone signs the time-stamped code with the user's private key; a reader checks both with only
the issuer public keys and the user blacklist it downloaded (alipay-product.md §10). The
signature arithmetic is behind `SignatureCheck` (ECDSA P-256 in adapters/transit_crypto.py), so
this module imports only the standard library.

Byte layouts (big-endian, fixed sizes, so a reader parses without a schema):

    certificate (126 bytes) = version 1 (1) | user id (8) | operator app id (8)
                              | user public key, compressed P-256 point (33)
                              | valid until, unix s (4) | credit limit fen (4) | issuer key id (4)
                              | issuer signature r||s (64) over the 62 bytes before it
    code (202 bytes)        = certificate (126) | issued at, unix s (4) | counter (4)
                              | nonce (4) | user signature r||s (64) over the 138 bytes before it

On the wire (QR, gateway records) a code is "PBT1" + base64url of the 202 bytes, no padding.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Protocol

from paybao.domain.errors import Conflict, DomainError, InvalidInput, InvalidState, NotFound

VERSION: Final = 1
CODE_PREFIX: Final = "PBT1"
PUBLIC_KEY_BYTES: Final = 33
SIGNATURE_BYTES: Final = 64
_CERT_BODY = struct.Struct(">BQQ33sIII")
_CODE_BODY = struct.Struct(">III")
CERT_BODY_BYTES: Final = _CERT_BODY.size  # 62
CERT_BYTES: Final = CERT_BODY_BYTES + SIGNATURE_BYTES  # 126
CODE_BODY_BYTES: Final = CERT_BYTES + _CODE_BODY.size  # 138
CODE_BYTES: Final = CODE_BODY_BYTES + SIGNATURE_BYTES  # 202
CODE_TEXT_LENGTH: Final = len(CODE_PREFIX) + (CODE_BYTES * 4 + 2) // 3  # 274

CODE_VALID_S: Final = 60  # a code refreshes every minute on the phone
CODE_VALID_S_MIN: Final = 30
CODE_VALID_S_MAX: Final = 300
CLOCK_SKEW_S_DEFAULT: Final = 30  # the phone's and the reader's clocks may differ this much
CLOCK_SKEW_S_MAX: Final = 300
REPLAY_MEMORY_MAX: Final = 100_000  # codes one reader remembers (a minute's worth suffices)
STATION_LENGTH_MAX: Final = 16


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"  # owes rides: on the blacklist, no code until repaid
    CLOSING = "CLOSING"  # asked to close: no new certificates; closes after the wait
    CLOSED = "CLOSED"


class RideStatus(StrEnum):
    PENDING = "PENDING"  # accepted, deduction not finished (a retry of the upload finishes it)
    PAID = "PAID"  # deducted through the withholding agreement
    OWED = "OWED"  # the deduction failed: arrears, the user is suspended
    REPAID = "REPAID"  # arrears paid by the user with the payment password
    REFUSED = "REFUSED"  # over the issuer's credit guarantee: the operator's loss


class OperatorKind(StrEnum):
    METRO = "METRO"  # tap in and tap out; fare by zones crossed
    BUS = "BUS"  # one tap; flat fare


class TapKind(StrEnum):
    IN = "IN"
    OUT = "OUT"
    BUS = "BUS"


# Errors -------------------------------------------------------------------------------------


class CodeRefused(DomainError):
    """A reader (or the platform re-checking an uploaded record) does not accept a code."""

    code = "transit_code_refused"


class CodeMalformed(CodeRefused):
    code = "transit_code_malformed"


class IssuerKeyUnknown(CodeRefused):
    code = "transit_issuer_key_unknown"


class IssuerSignatureBad(CodeRefused):
    code = "transit_issuer_signature_bad"


class CertificateExpired(CodeRefused):
    code = "transit_certificate_expired"


class WrongOperator(CodeRefused):
    code = "transit_wrong_operator"


class UserSignatureBad(CodeRefused):
    code = "transit_user_signature_bad"


class CodeExpired(CodeRefused):
    code = "transit_code_expired"


class CodeFromFuture(CodeRefused):
    code = "transit_code_from_future"


class UserBlacklisted(CodeRefused):
    code = "transit_user_blacklisted"


class CodeReplayed(CodeRefused):
    code = "transit_code_replayed"


class TransitNotOpen(NotFound):
    code = "transit_not_open"


class TransitSuspended(InvalidState):
    code = "transit_suspended"


class TransitHasDebt(InvalidState):
    code = "transit_has_debt"


class TransitClosing(InvalidState):
    code = "transit_closing"


class NotTransitOperator(NotFound):
    code = "transit_operator_not_found"


class FareOverCap(InvalidInput):
    code = "transit_fare_over_cap"


class BatchTooLarge(InvalidInput):
    code = "transit_batch_too_large"


class RecordInvalid(InvalidInput):
    code = "transit_record_invalid"


class AmountMismatch(InvalidInput):
    code = "transit_amount_mismatch"


class RecordReused(Conflict):
    code = "transit_record_reused"


# Certificate and code -----------------------------------------------------------------------


class SignatureCheck(Protocol):
    """ECDSA P-256 / SHA-256 with r||s signatures and compressed public keys."""

    def __call__(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class Certificate:
    user_id: int  # the user's public id, 2088 + 12 digits
    app_id: int  # the operator's app id (16 digits)
    public_key: bytes  # compressed P-256 point
    valid_until_s: int
    credit_limit_fen: int
    key_id: int  # the issuer key that signs it
    signature: bytes = b""

    def __post_init__(self) -> None:
        assert len(self.public_key) == PUBLIC_KEY_BYTES
        assert 0 <= self.credit_limit_fen < 2**32 and 0 < self.valid_until_s < 2**32
        assert len(self.signature) in (0, SIGNATURE_BYTES)

    def body(self) -> bytes:
        return _CERT_BODY.pack(
            VERSION,
            self.user_id,
            self.app_id,
            self.public_key,
            self.valid_until_s,
            self.credit_limit_fen,
            self.key_id,
        )

    def to_bytes(self) -> bytes:
        assert len(self.signature) == SIGNATURE_BYTES, "sign the certificate first"
        return self.body() + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> Certificate:
        if len(data) != CERT_BYTES:
            raise CodeMalformed("a certificate is 126 bytes")
        version, user_id, app_id, key, until, credit, key_id = _CERT_BODY.unpack(
            data[:CERT_BODY_BYTES]
        )
        if version != VERSION or key[0] not in (2, 3) or until == 0:
            raise CodeMalformed("not a version 1 certificate")
        return cls(user_id, app_id, key, until, credit, key_id, data[CERT_BODY_BYTES:])


@dataclass(frozen=True, slots=True)
class RideCode:
    certificate: Certificate
    issued_at_s: int
    counter: int
    nonce: int
    signature: bytes = b""

    def body(self) -> bytes:
        tail = _CODE_BODY.pack(self.issued_at_s, self.counter, self.nonce)
        return self.certificate.to_bytes() + tail

    def to_text(self) -> str:
        assert len(self.signature) == SIGNATURE_BYTES, "sign the code first"
        raw = base64.urlsafe_b64encode(self.body() + self.signature).rstrip(b"=")
        return CODE_PREFIX + raw.decode("ascii")

    @property
    def digest(self) -> str:
        """What anti-replay remembers: the whole signed code."""
        return hashlib.sha256(self.body() + self.signature).hexdigest()

    @classmethod
    def from_text(cls, text: str) -> RideCode:
        if len(text) != CODE_TEXT_LENGTH or not text.startswith(CODE_PREFIX):
            raise CodeMalformed("not a ride code")
        body = text[len(CODE_PREFIX) :]
        try:
            data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError:
            raise CodeMalformed("not a ride code") from None
        if len(data) != CODE_BYTES:
            raise CodeMalformed("not a ride code")
        certificate = Certificate.from_bytes(data[:CERT_BYTES])
        issued, counter, nonce = _CODE_BODY.unpack(data[CERT_BYTES:CODE_BODY_BYTES])
        return cls(certificate, issued, counter, nonce, data[CODE_BODY_BYTES:])


@dataclass(frozen=True, slots=True)
class ReaderView:
    """What a reader knows, all downloaded in advance: its operator, the issuer public keys
    (id -> compressed point) and the user blacklist (user ids)."""

    app_id: int
    issuer_keys: Mapping[int, bytes]
    blacklist: Collection[int]
    skew_s: int = CLOCK_SKEW_S_DEFAULT
    code_valid_s: int = CODE_VALID_S  # how old a code may be at the tap (plus the skew)


def verify_code(text: str, view: ReaderView, now_s: int, check: SignatureCheck) -> RideCode:
    """The code, if a reader holding `view` accepts it at `now_s`; else the refusal. Cheap
    checks first, signatures last but before anything about the user is believed."""
    assert 0 <= view.skew_s <= CLOCK_SKEW_S_MAX
    assert CODE_VALID_S_MIN <= view.code_valid_s <= CODE_VALID_S_MAX
    code = RideCode.from_text(text)
    cert = code.certificate
    issuer_key = view.issuer_keys.get(cert.key_id)
    if issuer_key is None:
        raise IssuerKeyUnknown(f"issuer key {cert.key_id} is not among the downloaded keys")
    if not check(issuer_key, cert.body(), cert.signature):
        raise IssuerSignatureBad("the certificate is not signed by the issuer")
    if not check(cert.public_key, code.body(), code.signature):
        raise UserSignatureBad("the code is not signed by the certified user key")
    if cert.app_id != view.app_id:
        raise WrongOperator("the code is for another transit operator")
    if cert.valid_until_s + view.skew_s < now_s:
        raise CertificateExpired("the certificate has expired: open the code online again")
    if code.issued_at_s > now_s + view.skew_s:
        raise CodeFromFuture("the code is dated in the future")
    if now_s - code.issued_at_s > view.code_valid_s + view.skew_s:
        raise CodeExpired(f"the code is older than {view.code_valid_s} s: refresh it")
    if cert.user_id in view.blacklist:
        raise UserBlacklisted("the user owes rides: repay in the wallet")
    return code


@dataclass
class ReplayGuard:
    """The codes one reader has accepted within the validity window: the same code twice is
    refused. Bounded: entries older than the window are forgotten, and at most `limit` kept
    (the oldest dropped first; by then they have expired anyway)."""

    window_s: int = CODE_VALID_S_MAX + 2 * CLOCK_SKEW_S_MAX
    limit: int = REPLAY_MEMORY_MAX
    _seen: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def admit(self, code: RideCode, now_s: int) -> None:
        while self._seen:
            oldest, at_s = next(iter(self._seen.items()))
            if at_s >= now_s - self.window_s and len(self._seen) < self.limit:
                break
            del self._seen[oldest]
        digest = code.digest
        if digest in self._seen:
            raise CodeReplayed("this code has been used at this reader")
        self._seen[digest] = now_s


# Taps and fares -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tap:
    """One reader's record of an accepted code: `IN|S03|1767225600|PBT1...` on the wire."""

    kind: TapKind
    station: str
    at_s: int
    code: str

    def to_text(self) -> str:
        return f"{self.kind}|{self.station}|{self.at_s}|{self.code}"

    @classmethod
    def from_text(cls, text: str) -> Tap:
        parts = text.split("|")
        if len(parts) != 4 or parts[0] not in TapKind.__members__ or not parts[2].isdigit():
            raise RecordInvalid("a record is KIND|station|unix seconds|code")
        station = parts[1]
        if not (0 < len(station) <= STATION_LENGTH_MAX) or not station.isalnum():
            raise RecordInvalid("a station is 1-16 letters or digits")
        return cls(TapKind(parts[0]), station, int(parts[2]), parts[3])


@dataclass(frozen=True, slots=True)
class FareRule:
    """An operator's fares. Metro: stations in zones, the fare by how many zones apart the
    two stations are (the last entry for anything further; a ride without a tap-out pays the
    last entry). Bus: one flat fare."""

    kind: OperatorKind
    flat_fen: int = 0
    zones: Mapping[str, int] = field(default_factory=dict)
    zone_fares_fen: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind is OperatorKind.BUS:
            assert self.flat_fen > 0
        else:
            assert self.zones and self.zone_fares_fen and min(self.zone_fares_fen) > 0

    @property
    def max_fen(self) -> int:
        return self.flat_fen if self.kind is OperatorKind.BUS else max(self.zone_fares_fen)


@dataclass(frozen=True, slots=True)
class Ride:
    """The taps of one ride, checked against each other and the operator's kind."""

    user_id: int
    first: Tap
    last: Tap | None  # the tap-out of a metro ride (None: no tap-out recorded)
    codes: tuple[RideCode, ...]


def ride_fare_fen(rule: FareRule, ride: Ride, cap_fen: int) -> int:
    """The fare of one ride by the operator's rule, refused above the per-ride cap."""
    if rule.kind is OperatorKind.BUS:
        fare = rule.flat_fen
    elif ride.last is None:
        fare = rule.zone_fares_fen[-1]
    else:
        start = _zone(rule, ride.first.station)
        end = _zone(rule, ride.last.station)
        apart = min(abs(start - end), len(rule.zone_fares_fen) - 1)
        fare = rule.zone_fares_fen[apart]
    if fare > cap_fen:
        raise FareOverCap(f"the fare {fare} fen is over the per-ride cap of {cap_fen} fen")
    return fare


def _zone(rule: FareRule, station: str) -> int:
    zone = rule.zones.get(station)
    if zone is None:
        raise RecordInvalid(f"unknown station {station}")
    return zone


def check_taps(rule: FareRule, taps: list[Tap]) -> tuple[Tap, Tap | None]:
    """Metro: IN, or IN then OUT no earlier; bus: one BUS tap."""
    if rule.kind is OperatorKind.BUS:
        if len(taps) != 1 or taps[0].kind is not TapKind.BUS:
            raise RecordInvalid("a bus ride is one BUS record")
        return taps[0], None
    if not taps or taps[0].kind is not TapKind.IN or len(taps) > 2:
        raise RecordInvalid("a metro ride is an IN record, then an OUT record")
    if len(taps) == 1:
        return taps[0], None
    out = taps[1]
    if out.kind is not TapKind.OUT or out.at_s < taps[0].at_s:
        raise RecordInvalid("a metro ride is an IN record, then a later OUT record")
    return taps[0], out


@dataclass(frozen=True, slots=True)
class TransitLimits:
    ride_fare_fen_max: int = 50_00  # no single ride above 50 CNY
    credit_fen_max: int = 30_00  # the issuer's guarantee: owed rides up to 30 CNY per user
    batch_size_max: int = 50  # rides per trade.settle call
    records_per_ride_max: int = 2
    clock_skew_s: int = CLOCK_SKEW_S_DEFAULT
    code_valid_s: int = CODE_VALID_S
    certificate_valid_s: int = 3 * 86_400
    issuer_keys_kept: int = 7  # daily keys readers can download (and still verify)
    close_wait_s: int = 3 * 86_400  # §10: cancel after 3 days if no debt
    upload_window_s: int = 7 * 86_400  # a ride uploaded later than this is refused

    def __post_init__(self) -> None:
        assert self.ride_fare_fen_max > 0 and 0 <= self.credit_fen_max < 2**32
        assert 0 < self.batch_size_max <= 500
        assert 0 <= self.clock_skew_s <= CLOCK_SKEW_S_MAX
        assert CODE_VALID_S_MIN <= self.code_valid_s <= CODE_VALID_S_MAX
        # A certificate must stay verifiable for its whole life: its key stays downloadable.
        assert 0 < self.certificate_valid_s <= (self.issuer_keys_kept - 1) * 86_400
        assert self.upload_window_s >= self.certificate_valid_s


_PUBLIC_ID_BASE: Final = 2088 * 10**12


def public_user_id(user_id: int) -> int:
    """The user's public id (2088 + 12 digits), as the gateway names users."""
    assert 0 < user_id < 10**11
    return _PUBLIC_ID_BASE + user_id


def user_of_public_id(public_id: int) -> int:
    user_id = public_id - _PUBLIC_ID_BASE
    if not 0 < user_id < 10**11:
        raise RecordInvalid("not a user id")
    return user_id


def check_public_key(key: bytes) -> None:
    if len(key) != PUBLIC_KEY_BYTES or key[0] not in (2, 3):
        raise InvalidInput("the device key is not a P-256 public key", code="transit_key_invalid")


__all__ = [
    "CODE_VALID_S",
    "AccountStatus",
    "Certificate",
    "FareRule",
    "OperatorKind",
    "ReaderView",
    "ReplayGuard",
    "Ride",
    "RideCode",
    "RideStatus",
    "SignatureCheck",
    "Tap",
    "TapKind",
    "TransitLimits",
    "check_taps",
    "ride_fare_fen",
    "verify_code",
]
