"""The sandbox bank: a small bank with its own tables, reached only through `BankChannel`.

It keeps card accounts with balances and answers every request from its own record, so a
repeated request id never moves money twice. In sandbox mode any Luhn-valid card of a known BIN
"exists": the first verification opens it in the given name with `DEMO_OPENING_FEN` on it.

Fault knobs (settings `bank_latency_ms`, `bank_timeout_rate`, `bank_failure_rate`, or
`faults` at run time) make it slow, lose answers, or refuse. A timeout is decided after the
bank acted: the request is recorded as succeeded (or failed for lack of money), and the caller
only hears UNKNOWN, exactly the case the platform must survive. A credit that names the
holder fails with `holder_name_mismatch` unless the card is held in that name. Tests can
script outcomes:
`bank.script.append("timeout")`, `"timeout_lost"` (the bank never got it), `"fail"`, `"ok"`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from paybao.adapters.banks.port import BankOutcome, BankResult, StatementLine
from paybao.adapters.db.tables.bank import bank_card_accounts, bank_requests
from paybao.adapters.sandbox_faults import FaultDice, Faults, deferred_read
from paybao.domain.errors import InvalidInput
from paybao.domain.identity import real_names_match
from paybao.services.ports import Clock

DEMO_OPENING_FEN = 10_000_00
_CHINA_TZ = timezone(timedelta(hours=8))
STATEMENT_LINES_MAX = 10_000
SCRIPT_STEPS = frozenset({"ok", "fail", "timeout", "timeout_lost"})


class SandboxBank:
    def __init__(self, engine: Engine, clock: Clock, faults: Faults, *, seed: int | None = None):
        self.engine = engine
        self.clock = clock
        self.dice = FaultDice(faults, SCRIPT_STEPS, "fail", seed=seed)
        self.faults = faults  # the same objects as the dice's: tests change them at run time
        self.script = self.dice.script
        dialect = engine.dialect.name
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Cards ------------------------------------------------------------------------------

    def open_card(
        self,
        card_number: str,
        bank_code: str,
        holder_name: str,
        id_number: str,
        reserved_phone: str,
        balance_fen: int = DEMO_OPENING_FEN,
    ) -> None:
        """Open a card account (demo data); an existing card is left as it is."""
        with self.engine.begin() as tx:
            if self._card(tx, card_number) is None:
                tx.execute(
                    insert(bank_card_accounts).values(
                        card_number=card_number,
                        bank_code=bank_code,
                        holder_name=holder_name,
                        id_number=id_number,
                        reserved_phone=reserved_phone,
                        balance_fen=balance_fen,
                        created_at_us=self.clock.now_us(),
                    )
                )

    def card_balance_fen(self, card_number: str) -> int | None:
        with deferred_read(self.engine) as tx:
            card = self._card(tx, card_number)
            return None if card is None else int(card.balance_fen)

    def verify_card(
        self, card_number: str, holder_name: str, id_number: str, reserved_phone: str
    ) -> BankResult:
        from paybao.domain.bins import lookup_bin

        entry = lookup_bin(card_number)
        assert entry is not None, "the platform checks the BIN before asking the bank"
        self.open_card(card_number, entry.bank_code, holder_name, id_number, reserved_phone)
        with deferred_read(self.engine) as tx:
            card = self._card(tx, card_number)
        assert card is not None
        same = (
            real_names_match(card.holder_name, holder_name)
            and card.id_number == id_number
            and card.reserved_phone == reserved_phone
        )
        if not same:
            return BankResult(BankOutcome.FAILED, "card_info_mismatch")
        return BankResult(BankOutcome.SUCCEEDED)

    # Money ------------------------------------------------------------------------------

    def debit(self, request_id: str, card_number: str, amount_fen: int) -> BankResult:
        return self._move("debit", request_id, card_number, amount_fen)

    def credit(
        self, request_id: str, card_number: str, amount_fen: int, *, holder_name: str | None = None
    ) -> BankResult:
        return self._move("credit", request_id, card_number, amount_fen, holder_name)

    def query(self, request_id: str) -> BankResult:
        self.dice.sleep()
        with deferred_read(self.engine) as tx:
            row = tx.execute(
                select(bank_requests).where(bank_requests.c.request_id == request_id)
            ).first()
        if row is None:
            return BankResult(BankOutcome.NOT_FOUND)
        return BankResult(BankOutcome(row.status), row.failure_code)

    def statement(self, day: date) -> list[StatementLine]:
        start = datetime(day.year, day.month, day.day, tzinfo=_CHINA_TZ)
        start_us = int(start.timestamp()) * 1_000_000
        end_us = start_us + 86_400 * 1_000_000
        query = (
            select(bank_requests)
            .where(bank_requests.c.created_at_us >= start_us)
            .where(bank_requests.c.created_at_us < end_us)
            .order_by(bank_requests.c.id)
            .limit(STATEMENT_LINES_MAX)
        )
        with deferred_read(self.engine) as tx:
            rows = tx.execute(query).all()
        return [
            StatementLine(
                request_id=row.request_id,
                kind=row.kind,
                card_tail=row.card_number[-4:],
                amount_fen=int(row.amount_fen),
                status=row.status,
                at_us=int(row.created_at_us),
            )
            for row in rows
        ]

    # Inside -----------------------------------------------------------------------------

    def _move(
        self,
        kind: str,
        request_id: str,
        card_number: str,
        amount_fen: int,
        holder_name: str | None = None,
    ) -> BankResult:
        assert amount_fen > 0
        step = self.dice.next_step()
        self.dice.sleep()
        if step == "timeout_lost":
            return BankResult(BankOutcome.UNKNOWN)
        with self.engine.begin() as tx:
            result = self._apply(
                tx, kind, request_id, card_number, amount_fen, holder_name, refuse=step == "fail"
            )
        if step == "timeout":
            return BankResult(BankOutcome.UNKNOWN)
        return result

    def _apply(
        self,
        tx: Connection,
        kind: str,
        request_id: str,
        card_number: str,
        amount_fen: int,
        holder_name: str | None,
        *,
        refuse: bool,
    ) -> BankResult:
        """The request recorded and the card's balance moved, in one transaction. The plain
        request (no name to check, not refused: nearly all) costs two statements: its record
        inserted as succeeded unless the id is known (the unique key decides, and a
        concurrent repeat waits for the first and is answered from its record), then the
        balance moved if it suffices. Only when it does not is the card read to say why."""
        if refuse or holder_name is not None:
            return self._apply_checked(
                tx, kind, request_id, card_number, amount_fen, holder_name, refuse=refuse
            )
        recorded = tx.execute(
            self._insert(bank_requests)
            .values(**_request_values(kind, request_id, card_number, amount_fen, self.clock))
            .on_conflict_do_nothing()
            .returning(bank_requests.c.id)
        ).scalar()
        if recorded is None:
            earlier = self._earlier(tx, request_id)
            assert earlier is not None, "a request's record is never deleted"
            return earlier
        if self._move_balance(tx, kind, card_number, amount_fen):
            return BankResult(BankOutcome.SUCCEEDED)
        card = self._card(tx, card_number, for_update=True)
        failure = self._failure(card, kind, amount_fen, refuse=False)
        if failure is None:  # money arrived on the card meanwhile
            assert self._move_balance(tx, kind, card_number, amount_fen)
            return BankResult(BankOutcome.SUCCEEDED)
        tx.execute(
            update(bank_requests)
            .where(bank_requests.c.request_id == request_id)
            .values(status="failed", failure_code=failure)
        )
        return BankResult(BankOutcome.FAILED, failure)

    def _apply_checked(
        self,
        tx: Connection,
        kind: str,
        request_id: str,
        card_number: str,
        amount_fen: int,
        holder_name: str | None,
        *,
        refuse: bool,
    ) -> BankResult:
        """A request to refuse, or one whose card must be held in a name: decided on the
        locked card row, then recorded."""
        earlier = self._earlier(tx, request_id)
        if earlier is not None:
            return earlier
        card = self._card(tx, card_number, for_update=True)
        failure = self._failure(card, kind, amount_fen, refuse=refuse)
        if failure is None and holder_name is not None and not _same_name(card, holder_name):
            failure = "holder_name_mismatch"
        if failure is None:
            assert self._move_balance(tx, kind, card_number, amount_fen)
        values = _request_values(kind, request_id, card_number, amount_fen, self.clock)
        if failure:
            values.update(status="failed", failure_code=failure)
        tx.execute(insert(bank_requests).values(**values))
        if failure:
            return BankResult(BankOutcome.FAILED, failure)
        return BankResult(BankOutcome.SUCCEEDED)

    @staticmethod
    def _earlier(tx: Connection, request_id: str) -> BankResult | None:
        """The answer given to a request with this id, from its record; None if none."""
        row = tx.execute(
            select(bank_requests.c.status, bank_requests.c.failure_code).where(
                bank_requests.c.request_id == request_id
            )
        ).first()
        return None if row is None else BankResult(BankOutcome(row.status), row.failure_code)

    @staticmethod
    def _move_balance(tx: Connection, kind: str, card_number: str, amount_fen: int) -> bool:
        """Debit or credit the card; False (nothing moved) if there is no such card, or a
        debit would take more than it holds."""
        cards = bank_card_accounts
        query = update(cards).where(cards.c.card_number == card_number)
        if kind == "debit":
            query = query.where(cards.c.balance_fen >= amount_fen)
            query = query.values(balance_fen=cards.c.balance_fen - amount_fen)
        else:
            query = query.values(balance_fen=cards.c.balance_fen + amount_fen)
        return tx.execute(query.returning(cards.c.id)).first() is not None

    @staticmethod
    def _failure(card: object, kind: str, amount_fen: int, *, refuse: bool) -> str | None:
        if card is None:
            return "card_not_found"
        if refuse:
            return "bank_declined"
        if kind == "debit" and int(card.balance_fen) < amount_fen:  # type: ignore[attr-defined]
            return "card_insufficient_balance"
        return None

    def _card(self, tx: Connection, card_number: str, *, for_update: bool = False):  # type: ignore[no-untyped-def]
        query = select(bank_card_accounts).where(bank_card_accounts.c.card_number == card_number)
        if for_update:
            query = query.with_for_update()
        return tx.execute(query).first()


def _request_values(
    kind: str, request_id: str, card_number: str, amount_fen: int, clock: Clock
) -> dict[str, Any]:
    """A request's record, as succeeded (a failure overwrites status and failure_code)."""
    return {
        "request_id": request_id,
        "kind": kind,
        "card_number": card_number,
        "amount_fen": amount_fen,
        "status": "succeeded",
        "failure_code": None,
        "created_at_us": clock.now_us(),
    }


def _same_name(card: object, holder_name: str) -> bool:
    """Is the card held in this name? (A name that cannot be a name never matches.)"""
    try:
        return real_names_match(card.holder_name, holder_name)  # type: ignore[attr-defined]
    except InvalidInput:
        return False
