"""Online banking (网银支付) at the sandbox bank: the bank's side, and paybao's client of it.

The bank's side (`SandboxBankPay`) keeps its own orders (`bank_pay_orders`) and takes the money
from the customer's card account at the sandbox bank (`SandboxBank.debit`, so the payment is a
line of the bank's statement like any card debit, under request id = order number). Its pages
(web/sandbox_bank_pay_pages.py) are the bank's, not paybao's. After a payment it:
1. calls paybao back server to server with a notice signed with the shared HMAC-SHA256 key
   (`deliver`, an HTTP POST with a timeout). Until paybao answers `success` the bank sends it
   again, as real banks and Alipay do: a job (`sandbox_bank.notice`, scheduled in the same
   transaction as the payment, so a crash cannot lose it) retries after 15 s, 1, 5 and 15 min,
   then gives up (5 deliveries at most); paybao's own query job covers a notice never taken;
2. sends the browser back to paybao's return URL (signed too; paybao ignores what it says).

paybao's client (`SandboxBankPayChannel`, the `BankPayChannel` port) signs the order it sends
the customer with, verifies notices, and asks the bank (query, close, daily file). Calls are
bounded by `timeout_s`: a bank slower than that answers UNKNOWN.

Test knobs: `bank.script.append(step)` with "timeout" (the next query/close answers UNKNOWN),
"drop_notice" (the next notice is never sent, nor retried: the bank's notifier is down).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from paybao.adapters.banks.sandbox import SandboxBank
from paybao.adapters.db.tables.bank import bank_card_accounts
from paybao.adapters.db.tables.topup_channels import bank_pay_orders
from paybao.domain.bins import BANKS
from paybao.domain.errors import InvalidInput, InvalidState
from paybao.services.banking import BankOutcome
from paybao.services.clock import US_PER_S
from paybao.services.jobs import Job, JobRunner
from paybao.services.ports import Clock
from paybao.services.topup_channel_records import (
    BankPaidLine,
    BankPayAnswer,
    BankPayNotice,
    BankPayOrder,
    BankPayState,
)

log = logging.getLogger(__name__)

PAGE_PATH = "/sandbox-bank/netbank"
NOTICE_TIMEOUT_S = 5.0
URL_LENGTH_MAX = 512
SCRIPT_STEPS = frozenset({"timeout", "drop_notice"})
ORDER_FIELDS = (
    "order_no",
    "bank_code",
    "amount_fen",
    "ordered_at_us",
    "expires_at_us",
    "return_url",
    "notify_url",
)
LINES_MAX = 100_000
JOB_NOTICE = "sandbox_bank.notice"
# Seconds before each retry of a notice paybao did not answer `success` to; after the last
# the bank gives up (1 + len(...) deliveries in all).
NOTICE_RETRY_S = (15, 60, 300, 900)


# Signing --------------------------------------------------------------------------------------


def sign(params: Mapping[str, str], key: bytes) -> str:
    """HMAC-SHA256 over `k=v` pairs sorted by name, joined with `&`, `sign` itself left out."""
    text = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign")
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signature_ok(params: Mapping[str, str], key: bytes) -> bool:
    given = params.get("sign", "")
    return hmac.compare_digest(given.encode(), sign(params, key).encode())


def signed(params: Mapping[str, str], key: bytes) -> dict[str, str]:
    return {**params, "sign": sign(params, key)}


# The bank -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BankOrder:
    """An order as the bank's page shows it."""

    order_no: str
    bank_code: str
    bank_name: str
    amount_fen: int
    status: str
    expires_at_us: int
    return_url: str


def http_deliver(url: str, form: Mapping[str, str]) -> bool:
    """POST a notice; True if the platform answered `success`. Bounded in time."""
    try:
        response = httpx.post(
            url, data=dict(form), timeout=NOTICE_TIMEOUT_S, follow_redirects=False
        )
    except httpx.HTTPError as error:
        log.warning("bank notice to %s not delivered: %s", url, error)
        return False
    return response.status_code == 200 and response.text.strip() == "success"


class SandboxBankPay:
    """The sandbox bank's online-banking gateway."""

    def __init__(self, engine: Engine, clock: Clock, cards: SandboxBank, key: bytes) -> None:
        self.engine = engine
        self.clock = clock
        self.cards = cards
        self.key = key
        self.script: deque[str] = deque()
        self.deliver: Callable[[str, Mapping[str, str]], bool] = http_deliver
        self.jobs: JobRunner | None = None
        self._lock = threading.Lock()

    def install_jobs(self, jobs: JobRunner) -> None:
        """The notice retries. The job delivers over the network: no transaction open."""
        self.jobs = jobs
        jobs.register_outside_tx(JOB_NOTICE, self._on_notice_job)

    # The customer's pages ---------------------------------------------------------------------

    def open_order(self, params: Mapping[str, str]) -> BankOrder:
        """The order paybao sent the customer with: refused unless paybao signed it."""
        if not signature_ok(params, self.key) or any(f not in params for f in ORDER_FIELDS):
            raise InvalidInput("the order is not signed by the merchant", code="bank_order_forged")
        order_no = params["order_no"]
        with self.engine.begin() as tx:
            tx.execute(_insert_new(self.engine.dialect.name, params))  # a reload keeps it
        return self.order(order_no)

    def order(self, order_no: str) -> BankOrder:
        row = self._row(order_no)
        if row is None:
            raise InvalidInput("no such order", code="bank_order_not_found")
        bank = BANKS.get(row.bank_code)
        return BankOrder(
            order_no=row.order_no,
            bank_code=row.bank_code,
            bank_name=bank.name_zh if bank else row.bank_code,
            amount_fen=int(row.amount_fen),
            status=row.status,
            expires_at_us=int(row.expires_at_us),
            return_url=row.return_url,
        )

    def pay(self, order_no: str, card_number: str) -> str:
        """The customer confirms with a card of this bank: debit it, notify paybao, and
        answer the URL the browser goes back to."""
        row = self._row(order_no)
        if row is None:
            raise InvalidInput("no such order", code="bank_order_not_found")
        if row.status != "awaiting":
            raise InvalidState("this order is no longer payable", code="bank_order_not_payable")
        if int(row.expires_at_us) <= self.clock.now_us():
            raise InvalidState("this order has expired", code="bank_order_not_payable")
        card = "".join(card_number.split())
        self._check_card(card, row.bank_code, int(row.amount_fen))
        result = self.cards.debit(order_no, card, int(row.amount_fen))
        if result.outcome is BankOutcome.UNKNOWN:  # our own card ledger knows how it went
            result = self.cards.query(order_no)
        paid = result.outcome is BankOutcome.SUCCEEDED
        notify_id = secrets.token_hex(16)
        now_us = self.clock.now_us()
        with self.engine.begin() as tx:
            moved = tx.execute(
                update(bank_pay_orders)
                .where(
                    bank_pay_orders.c.order_no == order_no, bank_pay_orders.c.status == "awaiting"
                )
                .values(
                    status="paid" if paid else "failed",
                    card_number=card,
                    paid_at_us=now_us if paid else None,
                    notify_id=notify_id,
                )
            ).rowcount
            if moved == 1 and self.jobs is not None:  # the retry, cancelled once delivered
                self.jobs.schedule_in(
                    tx, JOB_NOTICE, order_no, now_us + NOTICE_RETRY_S[0] * US_PER_S
                )
        if moved == 1:
            self._notify(order_no, row.notify_url)
        return self.return_url(order_no)

    def cancel(self, order_no: str) -> str:
        """The customer gave up on the bank's page: back to paybao, nothing paid."""
        return self.return_url(order_no)

    def return_url(self, order_no: str) -> str:
        row = self._row(order_no)
        if row is None:
            raise InvalidInput("no such order", code="bank_order_not_found")
        query = signed({"order_no": order_no, "status": row.status}, self.key)
        return f"{row.return_url}?{urlencode(query)}"

    def notice_form(self, order_no: str, *, notify_id: str | None = None) -> dict[str, str]:
        """The signed notice of a paid (or failed) order, as the bank posts it."""
        row = self._row(order_no)
        assert row is not None and row.status in ("paid", "failed")
        return signed(
            {
                "order_no": order_no,
                "amount_fen": str(int(row.amount_fen)),
                "status": "PAID" if row.status == "paid" else "FAILED",
                "notify_id": notify_id or str(row.notify_id),
                "notify_time_us": str(self.clock.now_us()),
            },
            self.key,
        )

    # What paybao asks, server to server -------------------------------------------------------

    def query(self, order_no: str) -> BankPayAnswer:
        if self._step("timeout"):
            return BankPayAnswer(BankPayState.UNKNOWN)
        return _answer(self._row(order_no))

    def close(self, order_no: str) -> BankPayAnswer:
        if self._step("timeout"):
            return BankPayAnswer(BankPayState.UNKNOWN)
        with self.engine.begin() as tx:
            tx.execute(
                update(bank_pay_orders)
                .where(
                    bank_pay_orders.c.order_no == order_no, bank_pay_orders.c.status == "awaiting"
                )
                .values(status="closed")
            )
        row = self._row(order_no)
        # An order the customer never opened is unknown to the bank: closed by definition.
        return BankPayAnswer(BankPayState.CLOSED) if row is None else _answer(row)

    def paid_lines(self, start_us: int, end_us: int) -> list[BankPaidLine]:
        o = bank_pay_orders
        query = (
            select(o.c.order_no, o.c.amount_fen, o.c.ordered_at_us)
            .where(o.c.status == "paid", o.c.ordered_at_us >= start_us, o.c.ordered_at_us < end_us)
            .order_by(o.c.id)
            .limit(LINES_MAX)
        )
        with self.engine.connect() as tx:
            return [BankPaidLine(str(a), int(b), int(c)) for a, b, c in tx.execute(query)]

    # Inside -----------------------------------------------------------------------------------

    def _notify(self, order_no: str, url: str) -> None:
        """The first delivery, right after the payment; the retry job is off once it is taken
        (or when the notifier is scripted down)."""
        if self._step("drop_notice") or self.deliver(url, self.notice_form(order_no)):
            self._cancel_retry(order_no)
        else:
            log.info("paybao did not take notice %s; it is sent again later", order_no)

    def _on_notice_job(self, job: Job) -> int | None:
        """Send the notice again (a fresh notify time, the same notify id); None when taken or
        when the retries are spent, else the time of the next one."""
        row = self._row(job.key)
        if row is None or row.status not in ("paid", "failed"):
            return None
        if self.deliver(row.notify_url, self.notice_form(job.key)):
            return None
        retry = job.attempts + 1  # retries done before this one: job.attempts
        if retry >= len(NOTICE_RETRY_S):
            log.warning("paybao never took notice %s; the bank stops sending it", job.key)
            return None
        return self.clock.now_us() + NOTICE_RETRY_S[retry] * US_PER_S

    def _cancel_retry(self, order_no: str) -> None:
        if self.jobs is None:
            return
        jobs = self.jobs
        with self.engine.begin() as tx:
            jobs.store.cancel(tx, JOB_NOTICE, order_no)

    def _check_card(self, card: str, bank_code: str, amount_fen: int) -> None:
        with self.engine.connect() as tx:
            account = tx.execute(
                select(bank_card_accounts).where(bank_card_accounts.c.card_number == card)
            ).first()
        if account is None or account.bank_code != bank_code:
            raise InvalidInput("no such card at this bank", code="bank_card_unknown")
        if int(account.balance_fen) < amount_fen:
            raise InvalidInput("not enough money on this card", code="bank_card_insufficient")

    def _row(self, order_no: str) -> Any:
        with self.engine.connect() as tx:
            return tx.execute(
                select(bank_pay_orders).where(bank_pay_orders.c.order_no == order_no)
            ).first()

    def _step(self, step: str) -> bool:
        with self._lock:
            if self.script and self.script[0] == step:
                self.script.popleft()
                return True
            return False


def _insert_new(dialect: str, params: Mapping[str, str]) -> Any:
    insert_of = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert_of(bank_pay_orders)
        .values(
            order_no=params["order_no"],
            bank_code=params["bank_code"],
            amount_fen=int(params["amount_fen"]),
            return_url=params["return_url"][:URL_LENGTH_MAX],
            notify_url=params["notify_url"][:URL_LENGTH_MAX],
            status="awaiting",
            ordered_at_us=int(params["ordered_at_us"]),
            expires_at_us=int(params["expires_at_us"]),
        )
        .on_conflict_do_nothing(index_elements=["order_no"])
    )


def _answer(row: Any) -> BankPayAnswer:
    if row is None or row.status == "awaiting":
        return BankPayAnswer(BankPayState.UNPAID)
    if row.status == "paid":
        return BankPayAnswer(BankPayState.PAID, int(row.amount_fen))
    return BankPayAnswer(BankPayState.CLOSED)


# paybao's client ------------------------------------------------------------------------------


class SandboxBankPayChannel:
    """`BankPayChannel` (services/topup_channel_records.py) over the sandbox bank."""

    def __init__(self, bank: SandboxBankPay, bank_base_url: str, timeout_s: float = 5.0) -> None:
        assert 0 < timeout_s <= 30
        self.bank = bank
        self.bank_base_url = bank_base_url.rstrip("/")
        self.timeout_s = timeout_s

    def payment_url(self, order: BankPayOrder) -> str:
        params = {
            "order_no": order.order_no,
            "bank_code": order.bank_code,
            "amount_fen": str(order.amount_fen),
            "ordered_at_us": str(order.ordered_at_us),
            "expires_at_us": str(order.expires_at_us),
            "return_url": order.return_url,
            "notify_url": order.notify_url,
        }
        return f"{self.bank_base_url}{PAGE_PATH}?{urlencode(signed(params, self.bank.key))}"

    def query(self, order_no: str) -> BankPayAnswer:
        return self._bounded(lambda: self.bank.query(order_no))

    def close(self, order_no: str) -> BankPayAnswer:
        return self._bounded(lambda: self.bank.close(order_no))

    def verify_notice(self, form: Mapping[str, str]) -> BankPayNotice:
        fields = ("order_no", "amount_fen", "status", "notify_id", "notify_time_us")
        if any(f not in form for f in fields) or not signature_ok(form, self.bank.key):
            raise InvalidInput("the notice's signature is wrong", code="bank_pay_notice_forged")
        try:
            amount_fen, at_us = int(form["amount_fen"]), int(form["notify_time_us"])
        except ValueError:
            raise InvalidInput("the notice is malformed", code="bank_pay_notice_forged") from None
        notify_id = form["notify_id"]
        if not 0 < len(notify_id) <= 64:
            raise InvalidInput("the notice is malformed", code="bank_pay_notice_forged")
        return BankPayNotice(
            form["order_no"], amount_fen, form["status"] == "PAID", notify_id, at_us
        )

    def paid_lines(self, start_us: int, end_us: int) -> list[BankPaidLine]:
        return self.bank.paid_lines(start_us, end_us)

    def _bounded(self, call: Callable[[], BankPayAnswer]) -> BankPayAnswer:
        """The sandbox bank answers in-process after its configured latency: a latency above
        our timeout is a call that timed out (we waited `timeout_s` and heard nothing)."""
        latency_s = self.bank.cards.faults.latency_ms / 1000
        if latency_s > self.timeout_s:
            time.sleep(self.timeout_s)
            return BankPayAnswer(BankPayState.UNKNOWN)
        if latency_s:
            time.sleep(latency_s)
        return call()
