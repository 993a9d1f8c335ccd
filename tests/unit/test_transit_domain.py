"""Ride codes offline: a reader accepts a fresh code and refuses every tampered byte, an unknown
issuer key, an expired certificate or code, a code from the future, another operator's code,
a blacklisted user and the same code twice; fares by zones, bus flat, the per-ride cap."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from paybao.adapters.transit_crypto import compressed, new_private_key, sign, verify
from paybao.domain.transit import (
    CODE_PREFIX,
    Certificate,
    CertificateExpired,
    CodeExpired,
    CodeFromFuture,
    CodeRefused,
    CodeReplayed,
    FareOverCap,
    FareRule,
    IssuerKeyUnknown,
    OperatorKind,
    ReaderView,
    ReplayGuard,
    Ride,
    RideCode,
    Tap,
    TapKind,
    UserBlacklisted,
    WrongOperator,
    check_taps,
    ride_fare_fen,
    verify_code,
)

APP = 2021000000000777
USER = 2088000000000042
NOW = 1_790_000_000
ISSUER = new_private_key()
PHONE = new_private_key()
KEYS = {20260101: compressed(ISSUER.public_key())}


def code_at(issued_s: int, *, valid_until_s: int = NOW + 86_400, app: int = APP) -> str:
    cert = Certificate(USER, app, compressed(PHONE.public_key()), valid_until_s, 3000, 20260101)
    cert = replace(cert, signature=sign(ISSUER, cert.body()))
    code = RideCode(cert, issued_s, 7, 12345)
    return RideCode(cert, issued_s, 7, 12345, sign(PHONE, code.body())).to_text()


def view(**changes: object) -> ReaderView:
    values: dict[str, object] = {"app_id": APP, "issuer_keys": KEYS, "blacklist": set()}
    values.update(changes)
    return ReaderView(**values)  # type: ignore[arg-type]


def test_a_fresh_code_passes_and_round_trips() -> None:
    text = code_at(NOW - 10)
    code = verify_code(text, view(), NOW, verify)
    assert code.certificate.user_id == USER and code.to_text() == text
    assert len(text) == 274 and text.startswith(CODE_PREFIX)


def test_every_tampered_byte_is_refused() -> None:
    text = code_at(NOW)
    raw = bytearray(base64.urlsafe_b64decode(text[4:] + "=="))
    for index in range(len(raw)):
        forged = bytearray(raw)
        forged[index] ^= 0x01
        forged_text = CODE_PREFIX + base64.urlsafe_b64encode(bytes(forged)).decode().rstrip("=")
        with pytest.raises(CodeRefused):
            verify_code(forged_text, view(), NOW, verify)


@pytest.mark.parametrize(
    ("text", "reader", "at", "error"),
    [
        (code_at(NOW), view(issuer_keys={}), NOW, IssuerKeyUnknown),
        (code_at(NOW, valid_until_s=NOW - 100), view(), NOW, CertificateExpired),
        (code_at(NOW - 100), view(), NOW, CodeExpired),
        (code_at(NOW + 100), view(), NOW, CodeFromFuture),
        (code_at(NOW, app=APP + 1), view(), NOW, WrongOperator),
        (code_at(NOW), view(blacklist={USER}), NOW, UserBlacklisted),
    ],
)
def test_refusals(text: str, reader: ReaderView, at: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify_code(text, reader, at, verify)


def test_skew_allows_a_slightly_fast_phone_and_a_late_scan() -> None:
    verify_code(code_at(NOW + 25), view(), NOW, verify)
    verify_code(code_at(NOW - 85), view(), NOW, verify)


def test_the_same_code_twice_at_one_reader_is_refused() -> None:
    guard = ReplayGuard()
    code = verify_code(code_at(NOW), view(), NOW, verify)
    guard.admit(code, NOW)
    with pytest.raises(CodeReplayed):
        guard.admit(code, NOW + 5)
    guard.admit(verify_code(code_at(NOW + 1), view(), NOW + 1, verify), NOW + 1)


def test_fares() -> None:
    metro = FareRule(OperatorKind.METRO, zones={"A": 1, "B": 2, "C": 5}, zone_fares_fen=(200, 300))
    tap_in, tap_out = Tap(TapKind.IN, "A", NOW, "x"), Tap(TapKind.OUT, "B", NOW + 60, "x")
    assert check_taps(metro, [tap_in, tap_out]) == (tap_in, tap_out)
    assert ride_fare_fen(metro, Ride(USER, tap_in, tap_out, ()), 5000) == 300
    assert ride_fare_fen(metro, Ride(USER, tap_in, None, ()), 5000) == 300  # no tap-out
    far = Tap(TapKind.OUT, "C", NOW + 60, "x")
    assert ride_fare_fen(metro, Ride(USER, tap_in, far, ()), 5000) == 300
    with pytest.raises(FareOverCap):
        ride_fare_fen(metro, Ride(USER, tap_in, far, ()), 250)
    bus = FareRule(OperatorKind.BUS, flat_fen=200)
    one = Tap(TapKind.BUS, "L7", NOW, "x")
    assert ride_fare_fen(bus, Ride(USER, *check_taps(bus, [one]), ()), 5000) == 200
    assert Tap.from_text(one.to_text()) == one
