"""The sandbox biller: every biller and carrier of the sandbox, with its own book of payments,
reached only through `BillerChannel` (wrapped in `TimedChannel`, which adds the timeout).

Bills are deterministic, so tests and people trying the sandbox can predict them:
- an account number ending in 0 is unknown (`bill_account_not_found`);
- one ending in 9 owes nothing this month;
- any other owes, for each month (China time), an amount derived from (biller, number, month)
  by SHA-256, in the category's range (water 15-200, electricity 30-500, gas 20-300,
  broadband 50-300 CNY), less what was confirmed for that month already;
- the holder's name is derived from (biller, number) the same way.
A mobile number ending in 0000 is not in service: its top-up is declined.

Confirmations are kept in `billpay_sandbox_payments` under the platform's request id, so a
repeated request is answered from the record and never pays twice. The biller declines a
payment that does not match the bill then (`bill_amount_mismatch`; electricity may be
prepaid: at least the bill).

Fault knobs (settings `billpay_sandbox_latency_ms`, `_failure_rate`, `_timeout_rate`, or
`faults` at run time): slow answers (beyond the channel's timeout they are lost), refusals,
lost answers. Tests can script confirmations: `billers.script.append("decline")`,
`"timeout"` (the biller records it, the answer is lost), `"timeout_lost"` (it never got it),
`"ok"`.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from paybao.adapters.billers.port import BillerAnswer, BillerOutcome, Statement
from paybao.adapters.db.tables.billpay import billpay_sandbox_payments
from paybao.adapters.sandbox_faults import FaultDice, Faults, deferred_read
from paybao.domain.billpay import BillAccountNotFound, Category, china_month
from paybao.services.ports import Clock

SCRIPT_STEPS = frozenset({"ok", "decline", "timeout", "timeout_lost"})
BILL_RANGE_FEN = {
    Category.WATER: (15_00, 200_00),
    Category.ELECTRICITY: (30_00, 500_00),
    Category.GAS: (20_00, 300_00),
    Category.BROADBAND: (50_00, 300_00),
}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
_GIVEN_NAMES = (
    *("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰"),
    *("娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "小明", "建国", "海燕"),
    *("子涵", "浩然", "雨桐", "思远"),
)
_CONFIRMED = "confirmed"
_DECLINED = "declined"


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256(":".join(parts).encode()).digest()[:8], "big")


def account_known(account_no: str) -> bool:
    return not account_no.endswith("0")


def billed_fen(biller_code: str, category: Category, account_no: str, period: str) -> int:
    """What the account is billed for the month (before any payment)."""
    if account_no.endswith("9"):
        return 0
    low, high = BILL_RANGE_FEN[category]
    return low + _digest(biller_code, account_no, period) % (high - low + 1)


def holder_name(biller_code: str, account_no: str) -> str:
    seed = _digest("holder", biller_code, account_no)
    surname = _SURNAMES[seed % len(_SURNAMES)]
    return surname + _GIVEN_NAMES[(seed // len(_SURNAMES)) % len(_GIVEN_NAMES)]


class SandboxBillers:
    def __init__(self, engine: Engine, clock: Clock, faults: Faults, *, seed: int | None = None):
        self.engine = engine
        self.clock = clock
        self.dice = FaultDice(faults, SCRIPT_STEPS, "decline", seed=seed)
        self.faults = faults  # the same objects as the dice's: tests change them at run time
        self.script = self.dice.script
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    def inquire(self, biller_code: str, category: Category, account_no: str) -> Statement:
        self.dice.sleep()
        if category is Category.MOBILE or not account_known(account_no):
            raise BillAccountNotFound(f"{biller_code} knows no account {account_no}")
        period = china_month(self.clock.now())
        with deferred_read(self.engine) as tx:
            owed_fen = self._owed_fen(tx, biller_code, category, account_no, period)
        return Statement(holder_name(biller_code, account_no), owed_fen, period)

    def pay(
        self,
        request_id: str,
        biller_code: str,
        category: Category,
        account_no: str,
        period: str,
        amount_fen: int,
    ) -> BillerAnswer:
        assert amount_fen > 0
        step = self.dice.next_step()
        self.dice.sleep()
        if step == "timeout_lost":
            return BillerAnswer(BillerOutcome.UNKNOWN)
        with self.engine.begin() as tx:
            answer = self._apply(
                tx, request_id, biller_code, category, account_no, period, amount_fen, step
            )
        if step == "timeout":
            return BillerAnswer(BillerOutcome.UNKNOWN)
        return answer

    def confirmed_fen(self, biller_code: str, account_no: str) -> int:
        """Everything the biller holds as paid for the account (tests read it)."""
        p = billpay_sandbox_payments
        query = select(func.coalesce(func.sum(p.c.amount_fen), 0)).where(
            p.c.biller_code == biller_code, p.c.account_no == account_no, p.c.status == _CONFIRMED
        )
        with deferred_read(self.engine) as tx:
            return int(tx.execute(query).scalar_one())

    # Inside -----------------------------------------------------------------------------------

    def _apply(
        self,
        tx: Connection,
        request_id: str,
        biller_code: str,
        category: Category,
        account_no: str,
        period: str,
        amount_fen: int,
        step: str,
    ) -> BillerAnswer:
        earlier = self._record(tx, request_id)
        if earlier is not None:
            return earlier
        decline = "biller_declined" if step == "decline" else None
        decline = decline or self._refusal(
            tx, biller_code, category, account_no, period, amount_fen
        )
        statement = self._insert(billpay_sandbox_payments).values(
            request_id=request_id,
            biller_code=biller_code,
            account_no=account_no,
            period=period,
            amount_fen=amount_fen,
            status=_DECLINED if decline else _CONFIRMED,
            decline_code=decline,
            created_at_us=self.clock.now_us(),
        )
        # A concurrent repeat of the same request may have written first: answer from it.
        tx.execute(statement.on_conflict_do_nothing(index_elements=["request_id"]))
        answer = self._record(tx, request_id)
        assert answer is not None
        return answer

    def _refusal(
        self,
        tx: Connection,
        biller_code: str,
        category: Category,
        account_no: str,
        period: str,
        amount_fen: int,
    ) -> str | None:
        if category is Category.MOBILE:
            return "topup_number_not_in_service" if account_no.endswith("0000") else None
        if not account_known(account_no):
            return "bill_account_not_found"
        owed_fen = self._owed_fen(tx, biller_code, category, account_no, period)
        if category is Category.ELECTRICITY:
            return None if amount_fen >= owed_fen else "bill_amount_mismatch"
        if owed_fen == 0:
            return "bill_already_paid"
        return None if amount_fen == owed_fen else "bill_amount_mismatch"

    def _owed_fen(
        self, tx: Connection, biller_code: str, category: Category, account_no: str, period: str
    ) -> int:
        p = billpay_sandbox_payments
        paid = tx.execute(
            select(func.coalesce(func.sum(p.c.amount_fen), 0)).where(
                p.c.biller_code == biller_code,
                p.c.account_no == account_no,
                p.c.period == period,
                p.c.status == _CONFIRMED,
            )
        ).scalar_one()
        return max(billed_fen(biller_code, category, account_no, period) - int(paid), 0)

    def _record(self, tx: Connection, request_id: str) -> BillerAnswer | None:
        p = billpay_sandbox_payments
        row = tx.execute(select(p).where(p.c.request_id == request_id)).first()
        if row is None:
            return None
        if row.status == _CONFIRMED:
            return BillerAnswer(BillerOutcome.CONFIRMED)
        return BillerAnswer(BillerOutcome.DECLINED, row.decline_code)
