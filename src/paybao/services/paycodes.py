"""The user's payment code (付款码): bound devices, verification of scanned codes, and the
barcode payment a till makes with them (`alipay.trade.pay`, scene bar_code).

A scanned code is spent in its OWN transaction, committed before the payment is tried, so a
presented code is dead even when the payment then fails (Alipay's rule); the unique key
`(device_id, step)` makes the spend single-use under any concurrency. Failed verifications are
counted per device and per Beijing day; past `failures_per_day_max` the device's codes still
work but every payment waits for the payment password (10003), so an attacker who guesses
codes cannot lock the victim out, only make them type their password.

Limits (alipay-product.md §1 and §4, every number a setting):
* password-free: a payment up to the user's limit (default 1,000 CNY, adjustable down to 0)
  completes at once, while the day's password-free total stays within level C (1,000 CNY);
* anything else waits for the buyer to confirm with the payment password (two factors: the
  device and the password, level B), and all code payments of a day stay within 5,000 CNY;
* risk control may still make a password-free payment wait for the password: the user's
  20th merchant payment in an hour, or an amount far above the user's usual (domain/risk.py).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.coupons import BEST_COUPONS
from paybao.domain.devices import DeviceConfirmation
from paybao.domain.errors import Forbidden, InvalidInput, LimitExceeded, NotFound
from paybao.domain.money import check_amount_fen
from paybao.domain.paycode import (
    device_locator_digits,
    looks_like_paycode,
    new_device_seed,
    parse_paycode,
    verify_paycode,
)
from paybao.domain.trades import AuthCodeInvalid, TradeStatus
from paybao.services.clock import US_PER_S, datetime_from_us
from paybao.services.devices import DeviceService, PaymentProof
from paybao.services.merchants import MerchantService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.risk import RiskService
from paybao.services.trades import NewTrade, Trade, TradeService

DEVICE_NAME_LENGTH_MAX = 64
KIND_BARCODE = "barcode"  # every code payment of the day (level B cap)
KIND_BARCODE_FREE = "barcode_free"  # password-free code payments of the day (level C cap)
KIND_STATIC = "static"  # payments on receive-money codes (level D cap)
# A till that resends a pay it has not heard back from (same order, same code) while the first
# is still running finds the code spent: it waits up to this long for the first to commit and
# answers with its result, as any replay. Only a code spent a moment ago is waited for.
RACE_WAIT_S_MAX = 2.0
RACE_POLL_S = 0.05


class DeviceNotFound(NotFound):
    code = "paycode_device_not_found"


class TooManyDevices(LimitExceeded):
    code = "paycode_devices_max"


class BarcodeDailyLimit(LimitExceeded):
    code = "barcode_daily_limit"


class ConfirmationNotFound(NotFound):
    code = "paycode_confirmation_not_found"


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    user_id: int
    name: str
    seed_sealed: str
    status: str
    failures: int
    failures_day: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class BoundDevice:
    """What a device gets once, at bind time: everything it needs to make codes offline."""

    device_id: int
    seed_base64: str
    locator_digits: str


@dataclass(frozen=True, slots=True)
class Confirmation:
    id: int
    trade_no: str
    user_id: int
    device_id: int
    amount_fen: int
    merchant_name: str
    subject: str
    status: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class StaticCode:
    token: str
    owner_kind: str  # "merchant" | "user"
    owner_id: int


@dataclass(frozen=True, slots=True)
class OrderCode:
    token: str
    trade_no: str
    created_at_us: int
    expires_at_us: int
    scanned_at_us: int | None


@dataclass(frozen=True, slots=True)
class CodeUse:
    """A verified, now spent, code: whose it is and whether it may pay without a password."""

    user_id: int
    device_id: int
    password_required: bool


@dataclass(frozen=True, slots=True)
class PaycodePolicy:
    password_free_fen_default: int = 1_000_00
    skew_steps: int = 1
    failures_per_day_max: int = 10
    devices_per_user_max: int = 5
    barcode_password_free_daily_fen: int = 1_000_00  # level C
    barcode_daily_fen: int = 5_000_00  # level B


class PaycodeStore(Protocol):
    def insert_device(
        self, tx: Tx, user_id: int, name: str, seed_sealed: str, now_us: int
    ) -> int: ...
    def device(self, tx: Tx, device_id: int) -> Device | None: ...
    def devices_of(self, tx: Tx, user_id: int) -> list[Device]: ...
    def unbind(self, tx: Tx, device_id: int, user_id: int, now_us: int) -> bool: ...
    def set_failures(self, tx: Tx, device_id: int, day: str, failures: int) -> None: ...
    def insert_use(self, tx: Tx, device_id: int, step: int, now_us: int) -> bool: ...
    def password_free_fen(self, tx: Tx, user_id: int) -> int | None: ...
    def set_password_free_fen(self, tx: Tx, user_id: int, amount_fen: int, now_us: int) -> None: ...
    def add_day_total(self, tx: Tx, user_id: int, day: str, kind: str, amount_fen: int) -> int: ...
    def day_total(self, tx: Tx, user_id: int, day: str, kind: str) -> int: ...
    def insert_confirmation(self, tx: Tx, values: dict[str, Any]) -> None: ...
    def confirmation(self, tx: Tx, confirmation_id: int) -> Confirmation | None: ...
    def confirmation_of_trade(self, tx: Tx, trade_no: str) -> Confirmation | None: ...
    def pending_confirmations(self, tx: Tx, user_id: int) -> list[Confirmation]: ...
    def decide(self, tx: Tx, confirmation_id: int, status: str, now_us: int) -> bool: ...


class SeedVault(Protocol):
    locator_key: bytes

    def seal(self, seed: bytes, user_id: int) -> str: ...
    def open(self, sealed_text: str, user_id: int) -> bytes: ...


class Payers(Protocol):
    """What paying by code needs from the wallet (UserService implements it)."""

    def run_paying(self, work: Callable[[Tx], Any]) -> Any: ...
    def check_payment_password_in(self, tx: Tx, user_id: int, payment_password: str) -> None: ...
    def verify_payment_password(self, user_id: int, payment_password: str) -> None: ...


def beijing_day(now_us: int) -> str:
    """The calendar day the daily limits count in (Beijing time, as the PBoC rules do)."""
    moment: datetime = datetime_from_us(now_us)
    return moment.astimezone(CHINA_TZ).date().isoformat()


class PaycodeService:
    def __init__(
        self,
        *,
        db: Database,
        store: PaycodeStore,
        vault: SeedVault,
        clock: Clock,
        users: Payers,
        trades: TradeService,
        merchants: MerchantService,
        policy: PaycodePolicy,
    ) -> None:
        self.db = db
        self.store = store
        self.vault = vault
        self.clock = clock
        self.users = users
        self.trades = trades
        self.merchants = merchants
        self.policy = policy
        # Set by the wiring when device confirmations are on (the wallet's devices).
        self.confirming_devices: DeviceService | None = None
        # Set by the wiring when risk control is on: an unusual password-free payment waits
        # for the buyer's password instead (domain/risk.py, CODE_PAY).
        self.risk: RiskService | None = None

    # Devices ------------------------------------------------------------------------------

    def bind_device(self, user_id: int, name: str, payment_password: str) -> BoundDevice:
        """Bind a device after the payment password; its seed is returned this once only."""
        name = name.strip() or "browser"
        if len(name) > DEVICE_NAME_LENGTH_MAX:
            raise InvalidInput("device name is at most 64 characters", code="invalid_device_name")
        self.users.verify_payment_password(user_id, payment_password)
        seed = new_device_seed()
        sealed = self.vault.seal(seed, user_id)

        def work(tx: Tx) -> int:
            if len(self.store.devices_of(tx, user_id)) >= self.policy.devices_per_user_max:
                raise TooManyDevices("unbind a device first")
            return self.store.insert_device(tx, user_id, name, sealed, self.clock.now_us())

        device_id = self.db.run(work)
        locator = device_locator_digits(device_id, self.vault.locator_key)
        return BoundDevice(device_id, base64.b64encode(seed).decode("ascii"), locator)

    def unbind_device(self, user_id: int, device_id: int) -> None:
        """Unbind at once: the next scan of any of its codes finds no active device."""
        now_us = self.clock.now_us()
        if not self.db.run(lambda tx: self.store.unbind(tx, device_id, user_id, now_us)):
            raise DeviceNotFound("no such active device")

    def devices(self, user_id: int) -> list[Device]:
        with self.db.read() as tx:
            return self.store.devices_of(tx, user_id)

    def locator_of(self, device_id: int) -> str:
        return device_locator_digits(device_id, self.vault.locator_key)

    # Preferences --------------------------------------------------------------------------

    def password_free_fen(self, user_id: int) -> int:
        with self.db.read() as tx:
            chosen = self.store.password_free_fen(tx, user_id)
        return self.policy.password_free_fen_default if chosen is None else chosen

    def set_password_free_fen(self, user_id: int, amount_fen: int) -> None:
        """The user may lower the password-free amount (down to 0), never raise it above
        the platform's default."""
        check_amount_fen(amount_fen, allow_zero=True)
        if amount_fen > self.policy.password_free_fen_default:
            raise InvalidInput("above the platform's password-free maximum", code="invalid_amount")
        now_us = self.clock.now_us()
        self.db.run(lambda tx: self.store.set_password_free_fen(tx, user_id, amount_fen, now_us))

    # Verifying a scanned code ---------------------------------------------------------------

    def spend_code(self, auth_code: str) -> CodeUse | None:
        """Verify and spend a code in a committed transaction of its own.

        None: the code names no device of ours (the caller may try other code kinds).
        Raises AuthCodeInvalid for a wrong, expired, reused or unbound code; the failure is
        counted on the device before raising.
        """
        if not looks_like_paycode(auth_code.strip()):
            return None
        parsed = parse_paycode(auth_code, self.vault.locator_key)
        now_us = self.clock.now_us()

        def work(tx: Tx) -> CodeUse | str | None:
            device = self.store.device(tx, parsed.device_id)
            if device is None:
                return None
            if device.status != "active":
                return "unbound"
            seed = self.vault.open(device.seed_sealed, device.user_id)
            step = verify_paycode(parsed, seed, now_us // US_PER_S, self.policy.skew_steps)
            if step is None:
                self._count_failure_in(tx, device, now_us)
                return "rejected"
            if not self.store.insert_use(tx, device.id, step, now_us):
                self._count_failure_in(tx, device, now_us)
                return "reused"
            failures = device.failures if device.failures_day == beijing_day(now_us) else 0
            too_many = failures >= self.policy.failures_per_day_max
            return CodeUse(device.user_id, device.id, password_required=too_many)

        outcome = self.db.run(work)
        if isinstance(outcome, str):
            raise AuthCodeInvalid(
                "the payment code is invalid or expired", spent=outcome == "reused"
            )
        return outcome

    def _count_failure_in(self, tx: Tx, device: Device, now_us: int) -> None:
        day = beijing_day(now_us)
        failures = device.failures + 1 if device.failures_day == day else 1
        self.store.set_failures(tx, device.id, day, failures)

    # Paying by code (the till) ---------------------------------------------------------------

    def pay_with_code(self, new: NewTrade, auth_code: str) -> Trade:
        """`alipay.trade.pay`: a paid trade, or an open one awaiting the buyer (10003)."""
        replay, absent = self._replay(new)
        if replay is not None:
            return replay  # a replay gets the first result and spends no code
        try:
            use = self.spend_code(auth_code)
        except AuthCodeInvalid as refused:
            # Spent a moment ago: perhaps by this very order, still being charged.
            raced = self._replay_of_a_race(new) if refused.data.get("spent") else None
            if raced is None:
                raise
            return raced
        if use is None:
            # Not a device code: the gateway's one-time codes (sandbox tills, tests).
            try:
                return self.trades.pay_with_code(new, auth_code, known_absent=absent)
            except AuthCodeInvalid:
                # The code's row was locked by a pay of the same order, which has committed
                # by the time ours found the code spent: answer with its result.
                raced, _ = self._replay(new)
                if raced is None:
                    raise
                return raced
        return self.db.run(lambda tx: self._charge_in(tx, new, use))

    def _replay_of_a_race(self, new: NewTrade) -> Trade | None:
        """The result of a pay of the same order that spent the code just before ours, once it
        commits (a device code is spent in a transaction of its own, before the charge)."""
        deadline_s = time.monotonic() + RACE_WAIT_S_MAX
        while True:
            replay, absent = self._replay(new)
            if replay is not None or not absent or time.monotonic() >= deadline_s:
                return replay
            time.sleep(RACE_POLL_S)

    def _replay(self, new: NewTrade) -> tuple[Trade | None, bool]:
        """(the trade a replay answers with, whether no trade has this order number at all)."""
        with self.db.read() as tx:
            existing = self.trades.store.trade_by_out_no(tx, new.app_id, new.out_trade_no)
            if existing is None:
                return None, True
            if existing.fingerprint != new.fingerprint:
                return None, False
            if existing.paid:
                return existing, False
            waiting = self.store.confirmation_of_trade(tx, existing.trade_no)
            return (existing if waiting is not None else None), False

    def _charge_in(self, tx: Tx, new: NewTrade, use: CodeUse) -> Trade:
        app = self.merchants.app(new.app_id)
        merchant = self.merchants.merchant_in(tx, app.merchant_id)
        trade = self.trades.create_in(tx, new, merchant)
        day = beijing_day(self.clock.now_us())
        amount_fen = trade.total_fen
        all_fen = self.store.day_total(tx, use.user_id, day, KIND_BARCODE)
        if all_fen + amount_fen > self.policy.barcode_daily_fen:
            raise BarcodeDailyLimit("today's payment-code limit is reached")
        if self._password_free(tx, use, day, amount_fen) and (
            self.risk is None or self.risk.code_pay_in(tx, use.user_id, amount_fen, trade.trade_no)
        ):
            self.store.add_day_total(tx, use.user_id, day, KIND_BARCODE_FREE, amount_fen)
            self.store.add_day_total(tx, use.user_id, day, KIND_BARCODE, amount_fen)
            # A till's payment takes the buyer's best coupons by itself (services/marketing.py).
            return self.trades.pay_in(tx, trade, use.user_id, coupons=BEST_COUPONS)
        values = {
            "trade_no": trade.trade_no,
            "user_id": use.user_id,
            "device_id": use.device_id,
            "amount_fen": amount_fen,
            "merchant_name": merchant.name[:128],
            "subject": trade.subject[:256],
            "created_at_us": self.clock.now_us(),
        }
        self.store.insert_confirmation(tx, values)
        return trade

    def _password_free(self, tx: Tx, use: CodeUse, day: str, amount_fen: int) -> bool:
        if use.password_required:
            return False
        chosen = self.store.password_free_fen(tx, use.user_id)
        limit_fen = self.policy.password_free_fen_default if chosen is None else chosen
        if amount_fen > limit_fen:
            return False
        free_fen = self.store.day_total(tx, use.user_id, day, KIND_BARCODE_FREE)
        return free_fen + amount_fen <= self.policy.barcode_password_free_daily_fen

    # The buyer confirms (or declines) a waiting payment ----------------------------------

    def pending(self, user_id: int) -> list[tuple[Confirmation, Trade]]:
        """Waiting payments whose trade is still open (a cancelled one drops off)."""
        with self.db.read() as tx:
            rows = self.store.pending_confirmations(tx, user_id)
            pairs = [(row, self.trades.store.trade_by_no(tx, row.trade_no)) for row in rows]
        now_us = self.clock.now_us()
        return [
            (row, trade)
            for row, trade in pairs
            if trade is not None
            and trade.status is TradeStatus.WAIT_BUYER_PAY
            and trade.expires_at_us > now_us
        ]

    def confirm(self, user_id: int, confirmation_id: int, payment_password: PaymentProof) -> Trade:
        """Pay a waiting payment, proven by the payment password or by a registered device
        (checked before the transaction: it needs no lock, and costs no argon2)."""
        by_device = isinstance(payment_password, DeviceConfirmation)
        if isinstance(payment_password, DeviceConfirmation):
            devices = self.confirming_devices
            if devices is None:
                raise Forbidden("device confirmations are off", code="device_not_registered")
            with self.db.read() as tx:
                waiting = self._own_pending_in(tx, user_id, confirmation_id)
            devices.confirm(user_id, payment_password, waiting.amount_fen)

        def work(tx: Tx) -> Trade:
            row = self._own_pending_in(tx, user_id, confirmation_id)
            trade = self.trades.store.trade_by_no(tx, row.trade_no)
            assert trade is not None
            if not isinstance(payment_password, DeviceConfirmation):
                self.users.check_payment_password_in(tx, user_id, payment_password)
            day = beijing_day(self.clock.now_us())
            total_fen = self.store.add_day_total(tx, user_id, day, KIND_BARCODE, trade.total_fen)
            if total_fen > self.policy.barcode_daily_fen:
                raise BarcodeDailyLimit("today's payment-code limit is reached")
            paid = self.trades.pay_in(tx, trade, user_id, coupons=BEST_COUPONS)
            assert self.store.decide(tx, row.id, "confirmed", self.clock.now_us())
            return paid

        result: Trade = self.db.run(work) if by_device else self.users.run_paying(work)
        return result

    def decline(self, user_id: int, confirmation_id: int) -> Trade:
        """The buyer refuses: the trade closes, and the merchant's query says so."""

        def work(tx: Tx) -> Trade:
            row = self._own_pending_in(tx, user_id, confirmation_id)
            trade = self.trades.store.trade_by_no(tx, row.trade_no)
            assert trade is not None
            closed = self.trades.close_in(tx, trade)
            assert self.store.decide(tx, row.id, "declined", self.clock.now_us())
            return closed

        return self.db.run(work)

    def _own_pending_in(self, tx: Tx, user_id: int, confirmation_id: int) -> Confirmation:
        row = self.store.confirmation(tx, confirmation_id)
        if row is None or row.user_id != user_id:
            raise ConfirmationNotFound("no such payment waiting for you")
        if row.status != "pending":
            raise Forbidden("this payment was already decided", code="paycode_already_decided")
        return row
