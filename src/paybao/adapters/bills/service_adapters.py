"""The bill service's adapters: the Alipay renderer and the signed download URLs.

A download URL carries `app|type|period|expiry` and an HMAC-SHA256 over it, keyed by a secret
derived from the platform's private key, so any worker can check a URL another one issued and
nobody can forge one. Expiry is platform time (the sandbox clock moves it in tests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote

from paybao.adapters.alipay.methods import seller_wire_id
from paybao.adapters.bills.alipay_bill import render_signcustomer_bill, render_trade_bill
from paybao.domain.bills import BillNotFound, MovementRow, Period, TradeBillRow

DOWNLOAD_PATH = "/bills/download"
TOKEN_LENGTH_MAX = 512


class AlipayBillRenderer:
    def trade(
        self, merchant_id: int, period: Period, rows: Sequence[TradeBillRow], now_us: int
    ) -> tuple[str, bytes]:
        bill = render_trade_bill(seller_wire_id(merchant_id), period, rows, now_us)
        return bill.file_name, bill.content

    def signcustomer(
        self, merchant_id: int, period: Period, rows: Sequence[MovementRow], now_us: int
    ) -> tuple[str, bytes]:
        bill = render_signcustomer_bill(seller_wire_id(merchant_id), period, rows, now_us)
        return bill.file_name, bill.content


class HmacUrlSigner:
    def __init__(self, secret: bytes, base_url: str) -> None:
        assert len(secret) >= 32
        self.secret = secret
        self.base_url = base_url.rstrip("/")

    def url(self, app_id: str, bill_type: str, period: str, expires_at_us: int) -> str:
        payload = f"{app_id}|{bill_type}|{period}|{expires_at_us}"
        token = _b64(payload.encode()) + "." + _b64(self._mac(payload))
        return f"{self.base_url}{DOWNLOAD_PATH}?token={quote(token)}"

    def open(self, token: str, now_us: int) -> tuple[str, str, str]:
        if len(token) > TOKEN_LENGTH_MAX or token.count(".") != 1:
            raise BillNotFound("the download link is not valid")
        body, mac = token.split(".")
        try:
            payload = base64.urlsafe_b64decode(body + "==").decode()
            given = base64.urlsafe_b64decode(mac + "==")
        except (ValueError, UnicodeDecodeError):
            raise BillNotFound("the download link is not valid") from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise BillNotFound("the download link is not valid")
        app_id, bill_type, period, expires = payload.split("|")
        if int(expires) <= now_us:
            raise BillNotFound("the download link has expired (links live 30 s)")
        return app_id, bill_type, period

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self.secret, payload.encode(), hashlib.sha256).digest()


def secret_from_key(private_key_der: bytes) -> bytes:
    """A URL-signing secret bound to this installation's platform key."""
    return hashlib.sha256(b"paybao bill download urls\0" + private_key_der).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
