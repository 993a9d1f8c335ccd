"""Helpers for the hostile-input and security tests: documented codes, write snapshots, users.

The set of documented error codes is read from the code, not kept by hand: every `code`
attribute of a `DomainError` subclass, every literal `code="..."` passed where an error is
raised, and the codes `web/errors.py` itself answers with (validation, HTTP, internal).
"""

from __future__ import annotations

import ast
import functools
import logging
import random
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, literal, select, union_all

import paybao
from paybao.adapters.db.tables import metadata
from paybao.adapters.db.tables.ledger import ledger_accounts
from paybao.adapters.db.tables.wallet import sms_outbox
from paybao.bootstrap import Platform
from paybao.domain.cards import generate_card_number
from paybao.domain.errors import DomainError
from paybao.domain.identity import generate_id_number

SOURCE_ROOT = Path(paybao.__file__).parent
LOGIN_PASSWORD = "abc12345"
PAYMENT_PASSWORD = "135790"


# Documented error codes ------------------------------------------------------------------


@functools.cache
def documented_error_codes() -> frozenset[str]:
    return frozenset(_source_codes() | _web_error_codes())


def _source_trees() -> Iterator[ast.AST]:
    for path in sorted(SOURCE_ROOT.rglob("*.py")):
        yield ast.parse(path.read_text(encoding="utf-8"))


def _source_codes() -> set[str]:
    """Both kinds of code in the source, in one walk of each file (parsing and walking the
    package is this module's cost, 3-6 s):

    - `code = "..."` in a class body (DomainError subclasses name their code so). Read from the
      source rather than imported, so a module someone is still writing cannot break the test;
      `DomainError` itself is checked to be found the same way.
    - literal `code="..."` keywords in any call (the way a service names its refusal).
    """
    class_codes: set[str] = set()
    raised_codes: set[str] = set()
    for tree in _source_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "code" and _is_text(keyword.value):
                        raised_codes.add(str(getattr(keyword.value, "value", "")))
            if not isinstance(node, ast.ClassDef):
                continue
            for statement in node.body:
                target = getattr(statement, "target", None) or next(
                    iter(getattr(statement, "targets", [])), None
                )
                value = getattr(statement, "value", None)
                if getattr(target, "id", "") == "code" and _is_text(value):
                    class_codes.add(str(getattr(value, "value", "")))
    assert DomainError.code in class_codes
    return class_codes | raised_codes


def _is_text(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _web_error_codes() -> set[str]:
    """Codes web/errors.py writes: `error_response(status, "<code>", ...)` and its HTTP table."""
    tree = ast.parse((SOURCE_ROOT / "web" / "errors.py").read_text(encoding="utf-8"))
    codes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "error_response":
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                codes.add(str(node.args[1].value))
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "on_http_error":
            codes.update(
                str(inner.value)
                for inner in ast.walk(node)
                if isinstance(inner, ast.Constant)
                and isinstance(inner.value, str)
                and re.fullmatch(r"[a-z_]+", inner.value)
            )
    return codes


def error_body_problem(body: Any) -> str | None:
    """None if `body` is `{"error": {"code": <documented str>, "message": <str>}}`."""
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return f"not an error body: {body!r}"
    error = body["error"]
    if set(error) != {"code", "message"}:
        return f"error keys are {sorted(error)}"
    if not isinstance(error["code"], str) or not isinstance(error["message"], str):
        return f"code/message not strings: {error!r}"
    if error["code"] not in documented_error_codes():
        return f"undocumented code {error['code']!r}"
    return None


# What the database holds -----------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]
    accounts: tuple[tuple[int, int, int, int, int], ...]

    def differences(self, other: Snapshot) -> list[str]:
        changed = [
            f"{table}: {count} -> {other.rows.get(table)}"
            for table, count in self.rows.items()
            if other.rows.get(table) != count
        ]
        if self.accounts != other.accounts:
            changed.append("ledger account counters changed")
        return changed


def snapshot(platform: Platform) -> Snapshot:
    """Row counts of every table and every ledger account's four counters, in two queries."""
    counts = union_all(
        *(
            select(literal(table.name).label("name"), func.count().label("n")).select_from(table)
            for table in metadata.sorted_tables
        )
    )
    columns = ledger_accounts.c
    with platform.engine.connect() as connection:
        rows = {str(name): int(n) for name, n in connection.execute(counts)}
        accounts = tuple(
            (int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]))
            for r in connection.execute(
                select(
                    columns.id,
                    columns.debits_pending,
                    columns.debits_posted,
                    columns.credits_pending,
                    columns.credits_posted,
                ).order_by(columns.id)
            )
        )
    return Snapshot(rows, accounts)


# Wallet users through the REST API -------------------------------------------------------


@dataclass(frozen=True)
class WalletUser:
    phone: str
    token: str
    card_id: int
    card_number: str
    id_number: str
    real_name: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def last_sms_code(platform: Platform, phone: str) -> str:
    with platform.engine.connect() as connection:
        text = connection.execute(
            select(sms_outbox.c.text)
            .where(sms_outbox.c.phone == phone)
            .order_by(sms_outbox.c.id.desc())
            .limit(1)
        ).scalar_one()
    return str(text).split("验证码 ")[1][:6]


def wallet_post(client: TestClient, path: str, body: dict[str, Any], token: str = "") -> Any:
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(f"/api/v1/wallet{path}", json=body, headers=headers)


def register_user(client: TestClient, platform: Platform, phone: str, name: str) -> WalletUser:
    """All six registration steps through the REST API; the card is confirmed."""
    rng = random.Random(phone)
    started = wallet_post(client, "/register", {"phone": phone, "login_password": LOGIN_PASSWORD})
    assert started.status_code == 200, started.text
    token = started.json()["token"]
    id_number = generate_id_number(rng)
    card_number = generate_card_number(rng, "CMB")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("/register/verify-phone", {"code": last_sms_code(platform, phone)}),
        ("/register/payment-password", {"payment_password": PAYMENT_PASSWORD}),
        ("/register/identity", {"real_name": name, "id_number": id_number}),
    ]
    for path, body in steps:
        response = wallet_post(client, path, body, token)
        assert response.status_code == 200, response.text
    card = {"card_number": card_number, "holder_name": name, "reserved_phone": phone}
    added = wallet_post(client, "/cards", card, token)
    assert added.status_code == 200, added.text
    card_id = int(added.json()["card_id"])
    code = {"code": last_sms_code(platform, phone)}
    confirmed = wallet_post(client, f"/cards/{card_id}/confirm", code, token)
    assert confirmed.json()["user"]["step"] == "active", confirmed.text
    return WalletUser(phone, token, card_id, card_number, id_number, name)


def top_up(client: TestClient, user: WalletUser, amount_fen: int) -> Any:
    body = {"card_id": user.card_id, "amount_fen": amount_fen, "payment_password": PAYMENT_PASSWORD}
    return wallet_post(client, "/topups", body, user.token)


# Logs ------------------------------------------------------------------------------------


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.name, self.format(record), repr(record.args)]
        parts.extend(f"{k}={v!r}" for k, v in vars(record).items() if k not in _PLAIN_ATTRS)
        self.texts.append(" ".join(parts))


_PLAIN_ATTRS = frozenset([*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message"])
LOGGERS_WATCHED = ("", "paybao", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx")


@contextmanager
def all_logs_at_debug() -> Iterator[list[str]]:
    """Everything logged (message, args, extras, tracebacks) by the watched loggers, at DEBUG.

    The collector sits on each watched logger, so a logger that does not propagate is heard
    too; a record that reaches several of them is simply collected more than once.
    """
    collector = _Collector()
    collector.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    saved: list[tuple[logging.Logger, int]] = []
    for name in LOGGERS_WATCHED:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(collector)
    try:
        yield collector.texts
    finally:
        for logger, level in saved:
            logger.removeHandler(collector)
            logger.setLevel(level)
