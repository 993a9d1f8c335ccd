"""Codes the payer scans: static receive-money codes (收钱码) of merchants and users, dynamic
order QR codes of `alipay.trade.precreate`, and the wallet's scan routing.

* A static code is `<base_url>/c/<token>`, one per owner, made on first use. Paying on it is
  level D of the barcode rules: at most `static_daily_fen` (500 CNY) per payer per day. A
  merchant's code makes a trade on the merchant's first app (so it shows in its trades and
  the notification outbox announces it) and pays it at once; a user's code is a transfer.
* An order QR is `<base_url>/qr/<token>` with a random 128-bit token; it is valid for
  `qr_order_valid_s` (2 hours) until first scanned, and the scan makes the hidden trade
  visible to the merchant's `alipay.trade.query` (Alipay's behaviour).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from paybao.domain.errors import InvalidInput, InvalidState, LimitExceeded, NotFound
from paybao.domain.money import check_amount_fen
from paybao.domain.paycode import looks_like_paycode
from paybao.domain.trades import TradeAlreadyPaid, TradeClosed, TradeStatus
from paybao.services.clock import US_PER_S
from paybao.services.merchants import MerchantService
from paybao.services.paycodes import KIND_STATIC, OrderCode, StaticCode, beijing_day
from paybao.services.ports import Clock, Database, Tx
from paybao.services.trades import NewTrade, Trade, TradeService

TOKEN_BYTES = 16  # 128 bits: unguessable, and short enough for a small QR symbol
TOKEN_LENGTH_MAX = 32
REQUEST_KEY_LENGTH_MAX = 48
STATIC_SUBJECT = "收钱码付款"


class CodeUnknown(NotFound):
    code = "code_unknown"


class CodeMalformed(InvalidInput):
    code = "code_malformed"


class CodeExpired(InvalidState):
    code = "code_expired"


class CodeIsPaycode(InvalidInput):
    """Someone scanned a payment code in the wallet: it is for merchants' tills."""

    code = "code_is_paycode"


class StaticDailyLimit(LimitExceeded):
    code = "static_code_daily_limit"


class NoMerchantApp(InvalidState):
    code = "merchant_has_no_app"


@dataclass(frozen=True, slots=True)
class Payee:
    """What the pay page shows of a static code's owner."""

    code: StaticCode
    name: str


@dataclass(frozen=True, slots=True)
class StaticPayment:
    amount_fen: int
    payee_name: str
    trade_no: str | None  # merchant codes make a trade; user codes a transfer
    transfer_id: int | None


class CodeStore(Protocol):
    def insert_static_code(
        self, tx: Tx, token: str, owner_kind: str, owner_id: int, now_us: int
    ) -> None: ...
    def static_code_of(self, tx: Tx, owner_kind: str, owner_id: int) -> StaticCode | None: ...
    def static_code(self, tx: Tx, token: str) -> StaticCode | None: ...
    def insert_order_code(
        self, tx: Tx, token: str, trade_no: str, now_us: int, expires_at_us: int
    ) -> None: ...
    def order_code_of_trade(self, tx: Tx, trade_no: str) -> OrderCode | None: ...
    def order_code(self, tx: Tx, token: str) -> OrderCode | None: ...
    def mark_order_scanned(self, tx: Tx, token: str, now_us: int) -> None: ...
    def add_day_total(self, tx: Tx, user_id: int, day: str, kind: str, amount_fen: int) -> int: ...


class Wallets(Protocol):
    def transfer(
        self, payer_id: int, payee_phone: str, amount_fen: int, payment_password: str, **kw: Any
    ) -> Any: ...


class Users(Protocol):
    def run_paying(self, work: Callable[[Tx], Any]) -> Any: ...
    def check_payment_password_in(self, tx: Tx, user_id: int, payment_password: str) -> None: ...
    def record(self, user_id: int) -> Any: ...


class StaticCodeService:
    def __init__(
        self,
        *,
        db: Database,
        store: CodeStore,
        clock: Clock,
        users: Users,
        wallet: Wallets,
        trades: TradeService,
        merchants: MerchantService,
        base_url: str,
        static_daily_fen: int,
        qr_order_valid_s: int,
    ) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.users = users
        self.wallet = wallet
        self.trades = trades
        self.merchants = merchants
        self.base_url = base_url.rstrip("/")
        self.static_daily_fen = static_daily_fen
        self.qr_order_valid_s = qr_order_valid_s

    # Static codes -------------------------------------------------------------------------

    def static_code_for(self, owner_kind: str, owner_id: int) -> StaticCode:
        """The owner's code, made on first use (the unique owner key settles races)."""
        assert owner_kind in ("merchant", "user") and owner_id > 0
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now_us = self.clock.now_us()

        def work(tx: Tx) -> StaticCode:
            self.store.insert_static_code(tx, token, owner_kind, owner_id, now_us)
            code = self.store.static_code_of(tx, owner_kind, owner_id)
            assert code is not None
            return code

        return self.db.run(work)

    def static_url(self, code: StaticCode) -> str:
        return f"{self.base_url}/c/{code.token}"

    def payee(self, token: str) -> Payee:
        with self.db.read() as tx:
            code = self.store.static_code(tx, token[:TOKEN_LENGTH_MAX])
        if code is None:
            raise CodeUnknown("no such receive-money code")
        if code.owner_kind == "merchant":
            return Payee(code, self.merchants.merchant(code.owner_id).name)
        record = self.users.record(code.owner_id)
        return Payee(code, _masked_name(record.real_name or record.phone))

    def pay_static(
        self, payer_id: int, token: str, amount_fen: int, payment_password: str, request_key: str
    ) -> StaticPayment:
        """Pay a receive-money code; `request_key` (the form's one-time key) makes a double
        submit pay once on merchant codes."""
        check_amount_fen(amount_fen)
        if not 0 < len(request_key) <= REQUEST_KEY_LENGTH_MAX:
            raise InvalidInput("missing request key", code="invalid_request_key")
        payee = self.payee(token)
        if payee.code.owner_kind == "merchant":
            trade = self._pay_merchant(payer_id, payee, amount_fen, payment_password, request_key)
            return StaticPayment(amount_fen, payee.name, trade.trade_no, None)
        transfer_id = self._pay_user(payer_id, payee, amount_fen, payment_password)
        return StaticPayment(amount_fen, payee.name, None, transfer_id)

    def _pay_merchant(
        self, payer_id: int, payee: Payee, amount_fen: int, payment_password: str, key: str
    ) -> Trade:
        merchant_id = payee.code.owner_id
        apps = self.merchants.apps_of(merchant_id)
        if not apps:
            raise NoMerchantApp("this merchant cannot receive payments yet")
        digest = hashlib.sha256(f"{payer_id}:{key}".encode()).hexdigest()
        new = NewTrade(
            app_id=apps[0].app_id,
            out_trade_no=f"SC{digest[:30]}",
            product="static_code",
            subject=STATIC_SUBJECT,
            total_fen=amount_fen,
            fingerprint=hashlib.sha256(f"{payer_id}:{amount_fen}".encode()).hexdigest()[:32],
        )

        def work(tx: Tx) -> Trade:
            existing = self.trades.store.trade_by_out_no(tx, new.app_id, new.out_trade_no)
            if existing is not None and existing.paid:
                return existing  # the same form submitted twice
            merchant = self.merchants.merchant_in(tx, merchant_id)
            trade = self.trades.create_in(tx, new, merchant)
            self.users.check_payment_password_in(tx, payer_id, payment_password)
            self._count_static_in(tx, payer_id, amount_fen)
            return self.trades.pay_in(tx, trade, payer_id)

        paid: Trade = self.users.run_paying(work)
        return paid

    def _pay_user(self, payer_id: int, payee: Payee, amount_fen: int, payment_password: str) -> int:
        # The wallet's transfer owns its transaction, so the day's total is reserved first
        # and given back if the transfer is refused.
        self.db.run(lambda tx: self._count_static_in(tx, payer_id, amount_fen))
        try:
            phone = self.users.record(payee.code.owner_id).phone
            movement = self.wallet.transfer(
                payer_id, phone, amount_fen, payment_password, memo=STATIC_SUBJECT
            )
        except Exception:
            self.db.run(lambda tx: self._count_static_in(tx, payer_id, -amount_fen))
            raise
        return int(movement.id)

    def _count_static_in(self, tx: Tx, payer_id: int, amount_fen: int) -> None:
        day = beijing_day(self.clock.now_us())
        total_fen = self.store.add_day_total(tx, payer_id, day, KIND_STATIC, amount_fen)
        if amount_fen > 0 and total_fen > self.static_daily_fen:
            raise StaticDailyLimit("today's limit for receive-money codes is reached")

    # Order QR codes (precreate) -------------------------------------------------------------

    def order_link(self, trade: Trade) -> str:
        """The precreate `qr_code`; the same trade (a replayed precreate) keeps its token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now_us = self.clock.now_us()
        expires_at_us = now_us + self.qr_order_valid_s * US_PER_S

        def work(tx: Tx) -> OrderCode:
            self.store.insert_order_code(tx, token, trade.trade_no, now_us, expires_at_us)
            code = self.store.order_code_of_trade(tx, trade.trade_no)
            assert code is not None
            return code

        return f"{self.base_url}/qr/{self.db.run(work).token}"

    def order(self, token: str) -> tuple[OrderCode, Trade]:
        """The order behind a token, if it can still be paid; raises the reason otherwise."""
        with self.db.read() as tx:
            code = self.store.order_code(tx, token[:TOKEN_LENGTH_MAX])
        if code is None:
            raise CodeUnknown("no such order code")
        trade = self.trades.get(code.trade_no)
        if trade.paid:
            raise TradeAlreadyPaid("this order is already paid")
        if trade.status is not TradeStatus.WAIT_BUYER_PAY:
            raise TradeClosed("this order is closed")
        now_us = self.clock.now_us()
        if code.scanned_at_us is None and code.expires_at_us <= now_us:
            raise CodeExpired("this QR code has expired")
        return code, trade

    def open_order(self, token: str) -> Trade:
        """A buyer scanned the order: from now on the merchant's query finds the trade."""
        code, _ = self.order(token)
        now_us = self.clock.now_us()
        self.db.run(lambda tx: self.store.mark_order_scanned(tx, code.token, now_us))
        return self.trades.mark_scanned(code.trade_no)

    # Scanning in the wallet -----------------------------------------------------------------

    def route(self, scanned: str) -> str:
        """The wallet path a scanned text leads to, or the error to show."""
        text = scanned.strip()
        if looks_like_paycode(text):
            raise CodeIsPaycode("this is a payment code: show it to a merchant's till")
        if not text or len(text) > 512 or not text.isprintable():
            raise CodeMalformed("this is not a paybao code")
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CodeMalformed("this is not a paybao code")
        ours = urlsplit(self.base_url)
        if (parts.scheme, parts.netloc) != (ours.scheme, ours.netloc):
            raise CodeUnknown("this code is not from this platform")
        return self._route_path(parts.path)

    def _route_path(self, path: str) -> str:
        pieces = path.strip("/").split("/")
        if len(pieces) != 2 or not pieces[1]:
            raise CodeUnknown("this code is not one the wallet can pay")
        kind, token = pieces
        if kind == "qr":
            self.order(token)
            return f"/qr/{token}"
        if kind == "c":
            self.payee(token)
            return f"/c/{token}"
        raise CodeUnknown("this code is not one the wallet can pay")


def _masked_name(name: str) -> str:
    """A personal payee as Alipay shows one: only the last character of the name."""
    return "*" + name[-1:] if len(name) > 1 else name
