"""Notification delivery in the worker: statements, transactions and CPU per delivered notification.

    python -m bench.notify_delivery --database-url URL [--count 500] [--rate 20]

On the database at URL (migrated here; use an empty one): a merchant whose notify_url is a local
receiver (bench/loadgen.py's, in its own process, answering `success` on kept-alive
connections), buyers with balance, then three measurements of this process, which runs the
worker's own code (`workers/runner.py`, on a platform built as in production: no sandbox
clock) and nothing else while measured:

1. burst: `--count` real bar-code pays (TradeService.pay_with_code, not measured) leave that
   many notifications due; worker passes deliver them all. Per delivery: SQL statements sent
   (psycopg cursor executes: every one a round trip), units of work (write transactions and
   read units, as `Database` opens them), CPU ms of this process (the receiver is elsewhere).
2. trickle: a child process pays at `--rate` per second while `run_forever` (the loop of `paybao
   worker`) delivers; worker CPU ms and statements per pay, as the sustained load sees them.
3. idle: `run_forever` with nothing due for `--idle-seconds`: CPU ms and statements per second.

Writes the figures as JSON to `--out` (default bench/results/notify_delivery.json).
On SQLite the statements are all SQLite runs (its trace callback), BEGIN and COMMIT included,
and executemany's rows one by one: not comparable with PostgreSQL's round trips.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from bench.loadgen import NotifyReceiver, Setup, issue_auth_codes, prepare
from paybao.adapters.db.tables.trade import notify_attempts, trade_notifications
from paybao.bootstrap import Platform, build_platform
from paybao.services.trades import NewTrade
from paybao.settings import Settings
from paybao.workers.runner import run_forever, run_pass

RESULTS = Path(__file__).resolve().parent / "results"
WARM_UP = 40
BUYERS = 4


class Counters:
    """Statements and units of work, counted while `on` is set."""

    def __init__(self) -> None:
        self.on = False
        self.statements = 0
        self.writes = 0
        self.reads = 0
        self.lock = threading.Lock()

    def add(self, name: str) -> None:
        if self.on:
            with self.lock:
                setattr(self, name, getattr(self, name) + 1)

    def snapshot(self) -> tuple[int, int, int]:
        return self.statements, self.writes, self.reads


def instrument(platform: Platform, counters: Counters) -> None:
    """Count cursor executes (psycopg) or statements run (SQLite) and the `Database` units of
    work (`write`, `write_on_driver`, `read`)."""
    if platform.db.dialect == "postgresql":
        import psycopg

        for name in ("execute", "executemany"):
            original = getattr(psycopg.Cursor, name)
            setattr(psycopg.Cursor, name, _counted(original, counters, "statements"))
    else:

        def trace(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.set_trace_callback(lambda _sql: counters.add("statements"))

        event.listen(platform.engine, "checkout", trace)
    db: Any = platform.db
    for name, counter in (("write", "writes"), ("write_on_driver", "writes"), ("read", "reads")):
        setattr(db, name, _counted(getattr(db, name), counters, counter))


def _counted(original: Callable[..., Any], counters: Counters, name: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        counters.add(name)
        return original(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def measured(counters: Counters, into: dict[str, float]) -> Iterator[None]:
    before = counters.snapshot()
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    counters.on = True
    try:
        yield
    finally:
        counters.on = False
        after = counters.snapshot()
        into["cpu_s"] = time.process_time() - cpu_started
        into["wall_s"] = time.perf_counter() - wall_started
        into["statements"], into["writes"], into["reads"] = (
            b - a for a, b in zip(before, after, strict=True)
        )


def per(figures: dict[str, float], count: int, unit: str) -> dict[str, float]:
    return {
        f"cpu_ms_per_{unit}": round(figures["cpu_s"] * 1000 / count, 3),
        f"statements_per_{unit}": round(figures["statements"] / count, 3),
        f"write_transactions_per_{unit}": round(figures["writes"] / count, 3),
        f"read_units_per_{unit}": round(figures["reads"] / count, 3),
        "wall_s": round(figures["wall_s"], 3),
    }


# Preparing -----------------------------------------------------------------------------------


def pay(platform: Platform, app_id: str, code: str, number: str) -> None:
    new = NewTrade(
        app_id=app_id,
        out_trade_no=number,
        product="FACE_TO_FACE_PAYMENT",
        subject="notify bench {测试}",
        total_fen=123,
        fingerprint=number,
    )
    platform.services["trades"].pay_with_code(new, code, known_absent=True)


def drain(platform: Platform) -> int:
    total = 0
    while True:
        _, ran = run_pass(platform)
        total += ran
        if ran == 0:
            return total


def delivered(platform: Platform) -> tuple[int, int, int]:
    """(notifications delivered, notifications in all, attempts logged)."""
    with platform.db.read() as tx:
        done = tx.execute(
            select(func.count()).where(trade_notifications.c.status == "delivered")
        ).scalar_one()
        total = tx.execute(select(func.count()).select_from(trade_notifications)).scalar_one()
        tries = tx.execute(select(func.count()).select_from(notify_attempts)).scalar_one()
    return int(done), int(total), int(tries)


# The three measurements ------------------------------------------------------------------------


def burst(
    platform: Platform, worker: Platform, counters: Counters, setup: Setup, count: int
) -> dict[str, Any]:
    codes = issue_auth_codes(platform, [buyer.user_id for buyer in setup.buyers], count)
    for number, code in enumerate(codes):
        pay(platform, setup.app_id, code, f"burst-{number}")
    before = delivered(worker)
    figures: dict[str, float] = {}
    passes = 0
    with measured(counters, figures):
        while run_pass(worker)[1]:
            passes += 1
    after = delivered(worker)
    assert after[0] - before[0] == count, (before, after)
    assert after[2] - before[2] == count, "one attempt logged per delivery"
    return {"deliveries": count, "passes": passes, **per(figures, count, "delivery")}


def trickle(
    platform: Platform,
    counters: Counters,
    settings: Settings,
    setup: Setup,
    count: int,
    rate: float,
) -> dict[str, Any]:
    before = delivered(platform)
    stop = threading.Event()
    heartbeat = platform.services["heartbeats"].worker("bench:notify")
    worker = threading.Thread(
        target=run_forever, args=(platform, stop), kwargs={"heartbeat": heartbeat}
    )
    figures: dict[str, float] = {}
    with measured(counters, figures):
        worker.start()
        payer = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.notify_delivery",
                "--pay",
                "--database-url",
                settings.database_url,
                "--data-dir",
                str(settings.data_dir),
                "--app-id",
                setup.app_id,
                "--buyer-ids",
                ",".join(str(buyer.user_id) for buyer in setup.buyers),
                "--count",
                str(count),
                "--rate",
                str(rate),
            ],
            check=True,
        )
        deadline = time.monotonic() + 60
        while delivered(platform)[0] - before[0] < count and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        worker.join()
    assert payer.returncode == 0
    assert delivered(platform)[0] - before[0] == count
    return {"pays": count, "rate_per_s": rate, **per(figures, count, "pay")}


def idle(platform: Platform, counters: Counters, seconds: float) -> dict[str, Any]:
    stop = threading.Event()
    heartbeat = platform.services["heartbeats"].worker("bench:idle")
    worker = threading.Thread(
        target=run_forever, args=(platform, stop), kwargs={"heartbeat": heartbeat}
    )
    figures: dict[str, float] = {}
    with measured(counters, figures):
        worker.start()
        time.sleep(seconds)
        stop.set()
        worker.join()
    return {"seconds": seconds, **per(figures, int(seconds), "second")}


# Entry points ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.notify_delivery", "--receiver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None
    url = receiver.stdout.readline().strip()
    data_dir = Path(tempfile.mkdtemp(prefix="paybao-notify-bench-"))
    settings = Settings(database_url=args.database_url, sandbox=True, data_dir=data_dir)
    # Preparing needs the sandbox (SMS inbox, demo bank); the measured worker runs as in
    # production, on the wall clock (the sandbox clock reads its offset from the database).
    platform = build_platform(settings, migrate=True)
    worker = build_platform(settings.model_copy(update={"sandbox": False}), migrate=False)
    try:
        setup = prepare(platform, buyers=BUYERS, notify_url=url, auth_codes=WARM_UP)
        drain(platform)
        for number, code in enumerate(setup.auth_codes):
            pay(platform, setup.app_id, code, f"warm-{number}")
        drain(worker)
        counters = Counters()
        instrument(worker, counters)
        results = {
            "database": worker.db.dialect,
            "burst": burst(platform, worker, counters, setup, args.count),
            "trickle": trickle(worker, counters, settings, setup, args.trickle_count, args.rate),
            "idle": idle(worker, counters, args.idle_seconds),
        }
    finally:
        worker.close()
        platform.close()
        assert receiver.stdin is not None
        receiver.stdin.close()
        receiver.wait(10)
    return results


def serve_receiver() -> None:
    """In its own process, so that its CPU is not the worker's."""
    receiver = NotifyReceiver().start()
    print(receiver.url, flush=True)
    sys.stdin.read()
    receiver.stop()


def pay_at_rate(args: argparse.Namespace) -> None:
    """The trickle's payer (a child process, as the web tier is to `paybao worker`)."""
    settings = Settings(database_url=args.database_url, sandbox=True, data_dir=args.data_dir)
    platform = build_platform(settings, migrate=False)
    try:
        user_ids = [int(part) for part in args.buyer_ids.split(",")]
        codes = issue_auth_codes(platform, user_ids, args.count)
        started = time.monotonic()
        for number, code in enumerate(codes):
            pause_s = started + number / args.rate - time.monotonic()
            if pause_s > 0:
                time.sleep(pause_s)
            pay(platform, args.app_id, code, f"trickle-{started}-{number}")
    finally:
        platform.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--count", type=int, default=500, help="burst deliveries")
    parser.add_argument("--trickle-count", type=int, default=200, help="pays in the trickle")
    parser.add_argument("--rate", type=float, default=20.0, help="trickle pays per second")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "notify_delivery.json")
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pay", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--app-id", help=argparse.SUPPRESS)
    parser.add_argument("--buyer-ids", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.receiver:
        serve_receiver()
        return
    if args.pay:
        pay_at_rate(args)
        return
    if not args.database_url:
        parser.error("--database-url is required")
    results = run(args)
    text = json.dumps(results, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
