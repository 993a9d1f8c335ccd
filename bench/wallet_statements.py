"""Statements and CPU per wallet top-up and withdrawal, in process, on PostgreSQL.

What the REST routes `POST /api/v1/wallet/topups` and `/withdrawals` do, without HTTP: the
bearer token's look-up, then `IdempotencyService.run` around `WalletService.top_up` /
`withdraw` (an instant withdrawal, sent to the bank by the request itself), answered as the
route renders it; then whatever jobs are due (none, when the bank answers at once: the
answer's transaction cancels the query job). Each operation is confirmed by the user's
registered device (`--proof device`, what half the load generator's requests do) or by the
payment password (`--proof password`: argon2 then dominates the CPU).

psycopg statements are counted by wrapping `Cursor.execute`/`executemany` (as
`paybao.bench_gateway.profile_pays` does), transactions by wrapping `Connection.commit` and
`rollback`, CPU with `time.process_time`. Prints a table and writes JSON:

    python -m bench.wallet_statements --database-url postgresql+psycopg://.../db [--count 300]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from bench.loadgen import PAYMENT_PASSWORD, Buyer
from bench.loadgen import _register as register_buyer  # what `prepare` does per buyer
from paybao.bootstrap import Platform, build_platform
from paybao.domain.devices import DeviceConfirmation, request_digest, signed_message
from paybao.services.devices import PaymentProof
from paybao.services.idempotency import fingerprint, without_secrets
from paybao.settings import Settings
from paybao.wiring.wallet import movement_answer

RESULTS = Path(__file__).resolve().parent / "results"
WARM_UP = 20  # per kind: first times (cached look-ups, the usage row of a period) excluded
BUYERS = 4
TOPUP_PATH = "/api/v1/wallet/topups"
WITHDRAW_PATH = "/api/v1/wallet/withdrawals"


class Counting:
    """Counts psycopg statements (by their text's shape) and transactions while on."""

    def __init__(self) -> None:
        self.on = False
        self.statements: Counter[str] = Counter()
        self.transactions = 0
        self._originals: tuple[Any, ...] = ()

    def install(self) -> None:
        cursor, connection = psycopg.Cursor, psycopg.Connection
        self._originals = (
            cursor.execute,
            cursor.executemany,
            connection.commit,
            connection.rollback,
        )
        counting = self

        def statement(original: Any) -> Any:
            def wrapper(cursor_self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
                if counting.on:
                    counting.statements[_shape(query)] += 1
                return original(cursor_self, query, *args, **kwargs)

            return wrapper

        def transaction(original: Any) -> Any:
            def wrapper(connection_self: Any) -> Any:
                if counting.on and connection_self.info.transaction_status != 0:  # not IDLE
                    counting.transactions += 1
                return original(connection_self)

            return wrapper

        cursor.execute = statement(self._originals[0])  # type: ignore[method-assign]
        cursor.executemany = statement(self._originals[1])  # type: ignore[method-assign]
        connection.commit = transaction(self._originals[2])  # type: ignore[method-assign]
        connection.rollback = transaction(self._originals[3])  # type: ignore[method-assign]

    def uninstall(self) -> None:
        cursor, connection = psycopg.Cursor, psycopg.Connection
        cursor.execute, cursor.executemany = self._originals[:2]  # type: ignore[method-assign]
        connection.commit, connection.rollback = self._originals[2:]  # type: ignore[method-assign]

    def take(self) -> tuple[Counter[str], int]:
        taken = self.statements, self.transactions
        self.statements, self.transactions = Counter(), 0
        return taken


def _shape(query: Any) -> str:
    text = query if isinstance(query, str) else getattr(query, "as_string", lambda _: "?")(None)
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text[:110]


class Caller:
    """One REST request's work, as web/api_wallet.py's `confirmed` + `idempotent` run it."""

    def __init__(self, platform: Platform, buyer: Buyer, proof_kind: str) -> None:
        self.services = platform.services
        self.clock = platform.clock
        self.buyer = buyer
        self.proof_kind = proof_kind

    def call(self, path: str, body: dict[str, Any], work: Callable[[PaymentProof], Any]) -> Any:
        key = f"bench-{secrets.token_hex(8)}"
        user_id = self.services["operators"].user_of_token(self.buyer.token)
        assert user_id == self.buyer.user_id
        if self.proof_kind == "password":
            body = {**body, "payment_password": PAYMENT_PASSWORD}
        raw = json.dumps(body).encode()
        proof = self._proof(path, key, raw)
        public = json.dumps(without_secrets(json.loads(raw)), sort_keys=True, ensure_ascii=False)

        def run() -> tuple[int, str]:
            # Answered as the route renders a Movement (a dataclass: `_plain` is `asdict`).
            return movement_answer(work(proof))

        status, text = self.services["idempotency"].run(
            f"user:{user_id}", key, fingerprint("POST", path, public), run
        )
        assert status == 200, text
        return json.loads(text)

    def _proof(self, path: str, key: str, raw: bytes) -> PaymentProof:
        if self.proof_kind == "password":
            return PAYMENT_PASSWORD
        timestamp_s = self.clock.now_us() // 1_000_000
        digest = request_digest("POST", path, key, raw)
        message = signed_message(self.buyer.device_id, timestamp_s, digest)
        signature = self.buyer.device_key.sign(message)
        return DeviceConfirmation(self.buyer.device_id, timestamp_s, signature, digest)


def _topup(platform: Platform, caller: Caller, rng: random.Random) -> Any:
    buyer, wallet = caller.buyer, platform.services["wallet"]
    amount_fen = rng.randint(100, 10_000)
    body = {"card_id": buyer.card_id, "amount_fen": amount_fen}
    return caller.call(
        TOPUP_PATH,
        body,
        lambda proof: wallet.top_up(buyer.user_id, buyer.card_id, amount_fen, proof),
    )


def _withdraw(platform: Platform, caller: Caller, rng: random.Random) -> Any:
    buyer, wallet = caller.buyer, platform.services["wallet"]
    amount_fen = rng.randint(100, 2_000)
    body = {"card_id": buyer.card_id, "amount_fen": amount_fen, "arrival": "instant"}
    return caller.call(
        WITHDRAW_PATH,
        body,
        lambda proof: wallet.withdraw(buyer.user_id, buyer.card_id, amount_fen, proof),
    )


OPERATIONS: dict[str, Callable[[Platform, Caller, random.Random], Any]] = {
    "topup": _topup,
    "withdraw": _withdraw,
}


def measure(
    platform: Platform, callers: list[Caller], kind: str, count: int, counting: Counting
) -> dict[str, Any]:
    operation = OPERATIONS[kind]
    rng = random.Random(11)
    for number in range(WARM_UP):
        operation(platform, callers[number % len(callers)], rng)
    platform.jobs.run_due()
    counting.take()
    counting.on = True
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    for number in range(count):
        answer = operation(platform, callers[number % len(callers)], rng)
        assert answer["status"] == "succeeded", answer
    cpu_s, wall_s = time.process_time() - cpu_started, time.perf_counter() - wall_started
    statements, transactions = counting.take()
    # What the worker would run for them: due jobs (none when every answer arrived).
    jobs_ran = platform.jobs.run_due()
    job_statements, job_transactions = counting.take()
    counting.on = False
    return {
        "operations": count,
        "statements_per_op": round(sum(statements.values()) / count, 2),
        "transactions_per_op": round(transactions / count, 2),
        "cpu_ms_per_op": round(cpu_s * 1000 / count, 3),
        "wall_ms_per_op": round(wall_s * 1000 / count, 3),
        "jobs_due_after": jobs_ran,
        "job_statements": sum(job_statements.values()),
        "job_transactions": job_transactions,
        "statements": {
            text: round(n / count, 2) for text, n in statements.most_common() if n >= count // 10
        },
    }


def run(database_url: str, count: int, proof_kind: str) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="paybao-wallet-statements-"))
    # As bench/load.py runs the servers: risk control on, its hourly velocity out of the way.
    settings = Settings(
        database_url=database_url,
        sandbox=True,
        data_dir=data_dir,
        risk_ops_per_hour_max=1_000_000,
    )
    platform = build_platform(settings, migrate=True)
    counting = Counting()
    try:
        rng = random.Random(secrets.randbits(32))  # new people: those of earlier runs exist
        run_tag = f"{rng.randrange(10**5):05d}"
        buyers = [register_buyer(platform, rng, n, run_tag) for n in range(BUYERS)]
        callers = [Caller(platform, buyer, proof_kind) for buyer in buyers]
        counting.install()
        try:
            results = {
                kind: measure(platform, callers, kind, count, counting) for kind in OPERATIONS
            }
        finally:
            counting.uninstall()
    finally:
        platform.close()
    return {"proof": proof_kind, "dialect": platform.engine.dialect.name, **results}


def print_table(result: dict[str, Any]) -> None:
    print(f"proof: {result['proof']}, database: {result['dialect']}")
    print(f"{'operation':<10} {'stmts/op':>9} {'tx/op':>6} {'CPU ms/op':>10} {'wall ms/op':>11}")
    for kind in OPERATIONS:
        row = result[kind]
        print(
            f"{kind:<10} {row['statements_per_op']:>9} {row['transactions_per_op']:>6}"
            f" {row['cpu_ms_per_op']:>10} {row['wall_ms_per_op']:>11}"
        )
    for kind in OPERATIONS:
        print(f"\n{kind}: statements per operation")
        for text, per_op in result[kind]["statements"].items():
            print(f"  {per_op:>5}  {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--proof", choices=("device", "password"), default="device")
    parser.add_argument("--out", type=Path, default=RESULTS / "wallet_statements.json")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        print("psycopg statements are counted: give a PostgreSQL URL", file=sys.stderr)
        return 2
    result = run(args.database_url, args.count, args.proof)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
