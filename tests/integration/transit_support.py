"""Helpers for transit tests: a metro operator, a phone that signs ride codes with its own
P-256 key (as the wallet page does with WebCrypto), readers fed by the gateway's downloads,
and uploads through `alipay.commerce.transport.offlinepay.trade.settle`."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from gateway_support import APP_ID, PAYMENT_PASSWORD, call, make_shop

from paybao.adapters.transit_crypto import compressed, new_private_key, sign
from paybao.adapters.transit_reader import Reader
from paybao.bootstrap import Platform
from paybao.domain.transit import (
    Certificate,
    FareRule,
    OperatorKind,
    RideCode,
    TapKind,
)
from paybao.services.clock import US_PER_S
from paybao.services.transit_records import Operator

SETTLE = "alipay.commerce.transport.offlinepay.trade.settle"
ZONES = {"WLQ": 1, "LPQ": 1, "FCQ": 2, "XHM": 3, "BJL": 4}
ZONE_FARES_FEN = (200, 300, 400, 500)


def make_metro(platform: Platform, **shop: Any) -> Operator:
    """The test's "Hangzhou Metro": a merchant app with a zone fare table."""
    made = make_shop(platform, **shop)
    operator = Operator(
        app_id=made.app.app_id,
        merchant_id=made.merchant.id,
        name="杭州地铁",
        fare=FareRule(OperatorKind.METRO, zones=ZONES, zone_fares_fen=ZONE_FARES_FEN),
    )
    platform.services["transit"].save_operator(operator)
    return operator


@dataclass
class Phone:
    """The user's phone: a key pair, the certificate the platform gave it, a counter."""

    key: Any = field(default_factory=new_private_key)
    certificate: bytes = b""
    counter: int = 0

    @property
    def public_key(self) -> bytes:
        return compressed(self.key.public_key())

    def code(self, now_s: int) -> str:
        self.counter += 1
        cert = Certificate.from_bytes(self.certificate)
        draft = RideCode(cert, now_s, self.counter, secrets.randbits(32))
        return RideCode(
            cert, now_s, self.counter, draft.nonce, sign(self.key, draft.body())
        ).to_text()


def open_ride_code(platform: Platform, user_id: int, app_id: str = APP_ID) -> Phone:
    phone = Phone()
    transit = platform.services["transit"]
    transit.open(user_id, app_id, phone.public_key, PAYMENT_PASSWORD)
    phone.certificate = transit.certificate(user_id, app_id)
    return phone


def now_s(platform: Platform) -> int:
    return platform.clock.now_us() // US_PER_S


def reader(client: Any, station: str, kind: TapKind = TapKind.IN, *, synced: bool = True) -> Reader:
    """A gate that downloaded the issuer keys and (when `synced`) the blacklist."""
    gate = Reader(app_id=APP_ID, station=station, kind=kind)
    gate.load_keys(call(client, "alipay.commerce.transport.offlinepay.key.query", {})["keys"])
    if not synced:  # offline since before the user was suspended
        return gate
    blacklist = call(
        client, "alipay.commerce.transport.offlinepay.userblacklist.query", {"page_size": 500}
    )
    gate.load_blacklist(blacklist["black_list"])
    return gate


def ride(
    client: Any,
    phone: Phone,
    at_s: int,
    start: str = "WLQ",
    end: str = "XHM",
    *,
    synced: bool = True,
) -> list[str]:
    """Tap in at `start`, out at `end` ten minutes later: the two records."""
    gate_in = reader(client, start, synced=synced)
    gate_out = reader(client, end, TapKind.OUT, synced=synced)
    gate_in.scan(phone.code(at_s), at_s)
    gate_out.scan(phone.code(at_s + 600), at_s + 600)
    return [tap.to_text() for tap in gate_in.take_taps() + gate_out.take_taps()]


def settle(client: Any, *trades: tuple[str, list[str]], **extra: Any) -> list[dict[str, Any]]:
    trade_list = [{"out_trade_no": no, "records": records, **extra} for no, records in trades]
    answer = call(client, SETTLE, {"trade_list": trade_list})
    assert answer["code"] == "10000", answer
    return list(answer["result_list"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
