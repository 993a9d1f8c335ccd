"""Crash test: a realistic load against `paybao serve` (2 workers) + `paybao worker` on
PostgreSQL while a killer SIGKILLs a random process every few seconds and restarts it; optionally
it also cuts database connections mid-transaction and restarts PostgreSQL once.

Clients retry with the same idempotency keys. At the end the platform drains its timers
(`paybao clock advance 2d`: notification retries, bank queries, delayed transfers), and the
checker proves: `paybao reconcile` is clean (its red packet checks included); every operation a
client saw succeed is in the database and the ledger exactly once (a red packet send: one packet
and one journal; a claim: one claim row and one journal); no key was applied twice and no share
claimed twice; a pay over v3 is checked as one over /gateway.do (one trade, one journal), and at
least one must have succeeded; every red packet is claimed or returned to the last fen (the drain
expires them all); every paid trade's notification reached the merchant's receiver at least
once; no hold is left open.

    python -m tests.reliability.crash --seconds 60 [--terminate-backends] [--restart-db-once]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench.loadgen import NotifyReceiver, Outcome, Setup, Tally, drive, prepare
from sqlalchemy import text

from paybao.bootstrap import build_platform
from paybao.settings import Settings

PAYBAO = str(Path(sys.executable).with_name("paybao"))
STARTUP_S_MAX = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Processes:
    """The platform's processes, each in its own session so that a kill takes all of it."""

    env: dict[str, str]
    port: int
    log_dir: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def command(self, name: str) -> list[str]:
        if name == "serve":
            return [
                PAYBAO,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "2",
            ]
        return [PAYBAO, "worker"]

    def start(self, name: str) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            self.command(name),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, target: str) -> None:
        """`serve` (the whole server: supervisor and workers), `serve-worker` (one uvicorn
        worker process; the supervisor starts a new one) or `worker` (`paybao worker`)."""
        with self.lock:
            if target == "serve-worker":
                children = child_pids(self.running["serve"].pid)
                if not children:
                    return
                os.kill(random.choice(children), signal.SIGKILL)
            else:
                process = self.running[target]
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                self.start(target)
            self.kills[target] = self.kills.get(target, 0) + 1

    def stop_all(self) -> None:
        for process in self.running.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_S_MAX
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("paybao serve did not become healthy")


def child_pids(parent: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def create_database(admin_url: str, name: str) -> str:
    from paybao.adapters.db.engine import make_engine

    engine = make_engine(f"{admin_url}/postgres")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{admin_url}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    from paybao.adapters.db.engine import make_engine

    engine = make_engine(f"{admin_url}/postgres")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


class Chaos:
    """Kills a random platform process every `interval_s` (with jitter), cuts a database
    connection mid-transaction now and then, and restarts PostgreSQL once if asked."""

    def __init__(self, processes: Processes, url: str, args: argparse.Namespace) -> None:
        self.processes = processes
        self.url = url
        self.args = args
        self.stop = threading.Event()
        self.rng = random.Random(args.seed)
        self.terminated = 0
        self.db_restarts = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.wait(self.args.kill_interval_s * (0.5 + self.rng.random())):
            self.processes.kill(
                self.rng.choice(["serve", "serve-worker", "serve-worker", "worker"])
            )
            # The next kill is counted from the moment the platform serves again: killing a
            # server that is still starting would test nothing but the start-up.
            self.processes.wait_healthy()
            if self.args.terminate_backends:
                self.terminated += terminate_one_backend(self.url)
            halfway = time.monotonic() - started > self.args.seconds / 2
            if self.args.restart_db_once and halfway and self.db_restarts == 0:
                restart_postgres()
                self.db_restarts += 1


def terminate_one_backend(url: str) -> int:
    """Cut one busy connection of ours from a second connection, as a network fault would."""
    from paybao.adapters.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            found = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND state IN ('active', 'idle in transaction') LIMIT 1"
                )
            ).all()
        return len(found)
    except Exception:  # the database may be restarting: the next round tries again
        return 0
    finally:
        engine.dispose()


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=120,
    )


# Checking ------------------------------------------------------------------------------------


def check(url: str, tally: Tally, receiver: NotifyReceiver, setup: Setup) -> list[str]:
    from paybao.adapters.db.engine import make_engine

    problems: list[str] = []
    engine = make_engine(url)
    with engine.connect() as connection:
        problems += _check_wallet(connection, tally)
        problems += _check_trades(connection, tally, setup)
        problems += _check_notifications(connection, receiver, setup)
        problems += _check_red_packets(connection, tally)
        open_holds = connection.execute(
            text("SELECT COUNT(*) FROM ledger_transfers WHERE pending_status = 'pending'")
        ).scalar()
        if open_holds:
            problems.append(f"{open_holds} hold(s) still open after the timers drained")
    engine.dispose()
    return problems


_WALLET = {
    "topup": ("topups", "topup:{}"),
    "withdraw": ("withdrawals", "withdraw:{}"),
    "transfer": ("wallet_transfers", "p2p:{}"),
}


def _check_wallet(connection: Any, tally: Tally) -> list[str]:
    problems: list[str] = []
    for kind, (table, ledger_id) in _WALLET.items():
        oks = [o for o in tally.outcomes if o.kind == kind and o.status == "ok"]
        for outcome in oks:
            row_id = outcome.detail.get("id")
            statuses = (
                connection.execute(
                    text(f"SELECT status FROM {table} WHERE id = :id"), {"id": row_id}
                )
                .scalars()
                .all()
            )
            journal = connection.execute(
                text("SELECT COUNT(*) FROM ledger_transfers WHERE id = :id"),
                {"id": ledger_id.format(row_id)},
            ).scalar()
            # A top-up answered while still processing may end failed (its server was killed
            # before the bank was asked, and the bank then says it never saw it): no money
            # moved, so no journal, and the client must not have been told it succeeded.
            failed_cleanly = (
                kind == "topup"
                and statuses == ["failed"]
                and journal == 0
                and outcome.detail.get("status") != "succeeded"
            )
            if not failed_cleanly and (len(statuses) != 1 or journal != 1):
                problems.append(
                    f"{kind} {row_id} (key {outcome.key}): rows {len(statuses)} {statuses},"
                    f" journal {journal}, answered {outcome.detail.get('status')}"
                )
    keys = connection.execute(
        text("SELECT key, COUNT(*) FROM idempotency_keys GROUP BY scope, key HAVING COUNT(*) > 1")
    ).all()
    problems += [f"idempotency key {key} stored {n} times" for key, n in keys]
    return problems


def _check_trades(connection: Any, tally: Tally, setup: Setup) -> list[str]:
    problems: list[str] = []
    pays = ("pay", "pay_v3")  # over /gateway.do and over v3: the same trade and journal
    for outcome in (o for o in tally.outcomes if o.kind in pays and o.status == "ok"):
        rows = connection.execute(
            text(
                "SELECT t.trade_no, t.status, (SELECT COUNT(*) FROM ledger_transfers l"
                " WHERE l.id = 'trade:' || t.trade_no || :suffix) FROM trades t"
                " WHERE t.app_id = :app AND t.out_trade_no = :key"
            ),
            {"app": setup.app_id, "key": outcome.key, "suffix": ":pay"},
        ).all()
        if len(rows) != 1 or rows[0][2] != 1:
            problems.append(
                f"{outcome.kind} {outcome.key}: trades {len(rows)},"
                f" journals {rows[0][2] if rows else 0}"
            )
    if not any(o.kind == "pay_v3" and o.status == "ok" for o in tally.outcomes):
        problems.append("no pay over v3 succeeded: the mix did not exercise v3")
    for outcome in (o for o in tally.outcomes if o.kind == "refund" and o.status == "ok"):
        count = connection.execute(
            text("SELECT COUNT(*) FROM trade_refunds WHERE out_request_no = :key"),
            {"key": outcome.key},
        ).scalar()
        if count != 1:
            problems.append(f"refund {outcome.key}: rows {count}")
    return problems


def _check_red_packets(connection: Any, tally: Tally) -> list[str]:
    acknowledged = [o for o in tally.outcomes if o.status == "ok"]
    sends = [o for o in acknowledged if o.kind == "red_packet_send"]
    claims = [o for o in acknowledged if o.kind == "red_packet_claim"]
    return (
        _check_red_packet_sends(connection, sends)
        + _check_red_packet_claims(connection, claims)
        + _check_red_packet_totals(connection)
    )


def _check_red_packet_sends(connection: Any, sends: list[Outcome]) -> list[str]:
    """Every acknowledged send is one packet with one journal."""
    problems: list[str] = []
    for outcome in sends:
        rows = connection.execute(
            text(
                "SELECT p.id, (SELECT COUNT(*) FROM ledger_transfers l"
                " WHERE l.id = 'rpsend:' || CAST(p.id AS VARCHAR)) FROM red_packets p"
                " WHERE p.packet_no = :no"
            ),
            {"no": outcome.detail.get("id")},
        ).all()
        if len(rows) != 1 or rows[0][1] != 1:
            journals = rows[0][1] if rows else 0
            problems.append(
                f"red packet send {outcome.key}: {len(rows)} packets, {journals} journals"
            )
    return problems


def _check_red_packet_claims(connection: Any, claims: list[Outcome]) -> list[str]:
    """Every acknowledged claim is one claim row, as answered, with one journal; no user holds
    two shares of a packet."""
    problems: list[str] = []
    for outcome in claims:
        rows = connection.execute(
            text(
                "SELECT p.packet_no, c.amount_fen, (SELECT COUNT(*) FROM ledger_transfers l"
                " WHERE l.id = 'rpclaim:' || CAST(c.id AS VARCHAR)) FROM red_packet_claims c"
                " JOIN red_packets p ON p.id = c.packet_id WHERE c.id = :id"
            ),
            {"id": outcome.detail.get("claim_id")},
        ).all()
        answered = (outcome.detail.get("packet_id"), outcome.detail.get("amount_fen"), 1)
        if len(rows) != 1 or tuple(rows[0]) != answered:
            problems.append(f"red packet claim {outcome.key}: rows {rows}, answered {answered}")
    twice = connection.execute(
        text(
            "SELECT packet_id, user_id, COUNT(*) FROM red_packet_claims"
            " GROUP BY packet_id, user_id HAVING COUNT(*) > 1"
        )
    ).all()
    problems += [f"red packet {p}: user {u} claimed {n} times" for p, u, n in twice]
    journals = connection.execute(
        text("SELECT COUNT(*) FROM ledger_transfers WHERE id LIKE 'rpclaim:%'")
    ).scalar()
    rows_count = connection.execute(text("SELECT COUNT(*) FROM red_packet_claims")).scalar()
    if journals != rows_count:
        problems.append(f"red packet claims: {rows_count} rows, {journals} journals")
    return problems


def _check_red_packet_totals(connection: Any) -> list[str]:
    """Each packet: no longer active (the drain passed its expiry), claimed + returned is its
    total, its counters are its claim rows, and what went back has one journal."""
    problems: list[str] = []
    packets = connection.execute(
        text(
            "SELECT p.packet_no, p.state, p.total_fen, p.claimed_fen, p.returned_fen,"
            " p.claimed_count,"
            " (SELECT COUNT(*) FROM red_packet_claims c WHERE c.packet_id = p.id),"
            " (SELECT COALESCE(SUM(c.amount_fen), 0) FROM red_packet_claims c"
            "  WHERE c.packet_id = p.id),"
            " (SELECT COUNT(*) FROM ledger_transfers l"
            "  WHERE l.id = 'rpreturn:' || CAST(p.id AS VARCHAR))"
            " FROM red_packets p"
        )
    ).all()
    for no, state, total, claimed, returned, count, rows, rows_fen, returns in packets:
        if state == "active" or claimed + returned != total or (count, claimed) != (rows, rows_fen):
            problems.append(
                f"red packet {no}: {state}, total {total}, claimed {claimed} + returned"
                f" {returned}; counted {count} claims, rows {rows} of {rows_fen} fen"
            )
        if returns != (1 if returned else 0):
            problems.append(f"red packet {no}: returned {returned} fen in {returns} journals")
    return problems


RECONCILE_RED_PACKET_CHECKS = (
    "red_packets.account_holds_unclaimed",
    "red_packets.packets_match_rows",
)


def _check_notifications(connection: Any, receiver: NotifyReceiver, setup: Setup) -> list[str]:
    paid = (
        connection.execute(
            text("SELECT out_trade_no FROM trades WHERE app_id = :app AND paid_at_us IS NOT NULL"),
            {"app": setup.app_id},
        )
        .scalars()
        .all()
    )
    missing = [key for key in paid if receiver.counts.get(key, 0) == 0]
    return [f"no notification reached the merchant for {key}" for key in missing[:20]] + (
        [f"... and {len(missing) - 20} more"] if len(missing) > 20 else []
    )


# The run ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = args.admin_url.rstrip("/")
    name = f"paybao_crash_{os.getpid()}"
    url = create_database(admin_url, name)
    work = Path(tempfile.mkdtemp(prefix="paybao-crash-"))
    receiver = NotifyReceiver().start()
    settings = Settings(database_url=url, data_dir=work / "data", sandbox=True)
    platform = build_platform(settings, migrate=True)
    platform.ledger.open_platform_accounts()
    setup = prepare(platform, buyers=args.buyers, notify_url=receiver.url, auth_codes=20_000)
    platform.close()
    env = {
        **os.environ,
        "PAYBAO_DATABASE_URL": url,
        "PAYBAO_DATA_DIR": str(work / "data"),
        "PAYBAO_SANDBOX": "1",
        "PAYBAO_RUN_WORKER_IN_SERVER": "0",
        # Each simulated buyer makes hundreds of money-outs an hour, far beyond a person's
        # velocity limit; risk control's other rules still run (and cost what they cost).
        "PAYBAO_RISK_OPS_PER_HOUR_MAX": "1000000",
        "PAYBAO_WORKER_POLL_INTERVAL_S": "0.2",
    }
    processes = Processes(env, free_port(), work)
    processes.start("serve")
    processes.start("worker")
    processes.wait_healthy()
    chaos = Chaos(processes, url, args)
    chaos.thread.start()
    tally = drive(
        f"http://127.0.0.1:{processes.port}", setup, seconds=args.seconds, clients=args.clients
    )
    chaos.stop.set()
    chaos.thread.join(60)
    processes.wait_healthy()
    drained = subprocess.run(
        [PAYBAO, "clock", "advance", "2d"], env=env, capture_output=True, text=True, timeout=600
    )
    processes.stop_all()
    reconcile = subprocess.run(
        [PAYBAO, "reconcile"], env=env, capture_output=True, text=True, timeout=600
    )
    problems = check(url, tally, receiver, setup)
    if drained.returncode != 0:
        problems.append(f"clock advance failed: {drained.stderr[-500:]}")
    if reconcile.returncode != 0:
        problems.append("reconcile: " + reconcile.stdout[-2000:])
    for check_name in RECONCILE_RED_PACKET_CHECKS:
        if f"ok  {check_name}:" not in reconcile.stdout:
            problems.append(f"reconcile did not run {check_name} clean")
    receiver.stop()
    summary = summarise(tally, processes, chaos, receiver, problems)
    if not args.keep:
        drop_database(admin_url, name)
        shutil.rmtree(work, ignore_errors=True)
    else:
        summary["kept"] = {"database": url, "folder": str(work)}
    return summary


def summarise(
    tally: Tally, processes: Processes, chaos: Chaos, receiver: NotifyReceiver, problems: list[str]
) -> dict[str, Any]:
    by_kind: dict[str, dict[str, int]] = {}
    for outcome in tally.outcomes:
        row = by_kind.setdefault(outcome.kind, {"tried": 0, "ok": 0, "rejected": 0, "gave_up": 0})
        row["tried"] += 1
        row[outcome.status] += 1
    rejections: dict[str, int] = {}
    for outcome in tally.outcomes:
        if outcome.status == "rejected":
            code = f"{outcome.kind}:{outcome.detail.get('sub_code') or outcome.detail.get('code')}"
            rejections[code] = rejections.get(code, 0) + 1
    return {
        "operations": by_kind,
        "rejections": rejections,
        "retries": tally.retries,
        "kills": processes.kills,
        "connections_cut": chaos.terminated,
        "database_restarts": chaos.db_restarts,
        "notifications_received": sum(receiver.counts.values()),
        "trades_notified": len(receiver.counts),
        "differences": problems,
    }


def print_summary(summary: dict[str, Any]) -> None:
    print(f"{'operation':<16} {'tried':>7} {'ok':>7} {'rejected':>9} {'gave up':>8}")
    for kind, row in sorted(summary["operations"].items()):
        print(
            f"{kind:<16} {row['tried']:>7} {row['ok']:>7} {row['rejected']:>9} {row['gave_up']:>8}"
        )
    print(f"business rejections (expected, e.g. insufficient funds): {summary['rejections']}")
    print(
        f"retries {summary['retries']}, kills {summary['kills']},"
        f" connections cut {summary['connections_cut']},"
        f" database restarts {summary['database_restarts']}"
    )
    print(
        f"notifications received {summary['notifications_received']}"
        f" for {summary['trades_notified']} trades"
    )
    print(f"differences found: {len(summary['differences'])}")
    for problem in summary["differences"][:50]:
        print(f"  - {problem}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--buyers", type=int, default=12)
    parser.add_argument("--kill-interval-s", type=float, default=5)
    parser.add_argument("--terminate-backends", action="store_true")
    parser.add_argument("--restart-db-once", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary = run(args)
    print_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if summary["differences"] else 0


if __name__ == "__main__":
    sys.exit(main())
