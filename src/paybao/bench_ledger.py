"""`paybao bench ledger`: one transfer per commit vs group commit, on a given database.

Both modes run in several OS processes, as `paybao serve --workers N` does, so that Python's
global lock does not cap what the database could do:

- single commit: each process runs `threads` threads, each committing one transfer per
  transaction;
- group commit: each process runs an asyncio loop of `submitters / processes` concurrent
  submitters (as concurrent requests in one server process) feeding that process's poster.

It creates its own accounts (keys `platform:bench-<run>-<n>:...`), so run it against a
throw-away database; `bench/ledger.sh` does that for SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import statistics
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from paybao.bootstrap import Platform, build_platform
from paybao.domain.accounts import AccountSpec, OwnerKind, Purpose
from paybao.domain.ledger import Transfer
from paybao.settings import load_settings

FUNDING_FEN = 10**12
OPEN_BATCH_SIZE = 1000
WARMUP_S = 0.5
START_DELAY_S = 1.0  # from submitting a phase to its common start: the processes are warm
WARM_TIMEOUT_S = 120


def run_benchmark(
    url: str,
    *,
    seconds: float,
    submitters: int,
    single_threads: int,
    accounts: int,
    processes: int = 0,
) -> dict[str, Any]:
    """`processes=0` picks the deployment that suits the database: SQLite has one writer, and
    processes queueing for its lock only add latency, so one process; PostgreSQL, two."""
    platform = build_platform(load_settings(database_url=url), migrate=True)
    processes = processes or (1 if platform.db.dialect == "sqlite" else 2)
    try:
        account_ids = _prepare_accounts(platform, accounts)
    finally:
        platform.close()
    phase_s = seconds / 2
    per_process = max(1, submitters // processes)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        _warm(pool, processes)
        single = _in_processes(
            pool, _single_worker, url, account_ids, phase_s, processes, single_threads
        )
        group = _in_processes(
            pool, _group_worker, url, account_ids, phase_s, processes, per_process
        )
    platform = build_platform(load_settings(database_url=url))
    try:
        report = platform.reconcile.run()
    finally:
        platform.close()
    latencies = sorted(x for part in group for x in part["latencies_ms"])
    batches = sum(part["batches"] for part in group)
    return {
        "database": platform.db.dialect,
        "single_commit_per_s": round(sum(part["per_s"] for part in single), 1),
        "group_commit_per_s": round(sum(part["per_s"] for part in group), 1),
        "group_commit_p50_ms": round(statistics.median(latencies), 2),
        "group_commit_p99_ms": round(_percentile(latencies, 0.99), 2),
        "submitters": per_process * processes,
        "processes": processes,
        "single_commit_threads_per_process": single_threads,
        "group_commit_batches": batches,
        "group_commit_mean_batch": round(len(latencies) / max(batches, 1), 1),
        "accounts": accounts,
        "seconds": seconds,
        "reconcile_clean": report.clean,
    }


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _warm(pool: ProcessPoolExecutor, processes: int) -> None:
    """Start every process of the pool and import the platform in each before any phase: a
    spawned interpreter takes seconds to get there, and a phase must not measure that."""
    # Each task lasts long enough for every process to finish its import and take one.
    futures = [pool.submit(_ready, 1.0) for _ in range(processes)]
    for future in futures:
        future.result(timeout=WARM_TIMEOUT_S)


def _ready(hold_s: float) -> None:
    import paybao.bootstrap  # noqa: F401 (the import is the work)

    time.sleep(hold_s)


def _in_processes(
    pool: ProcessPoolExecutor,
    target: Any,
    url: str,
    account_ids: list[int],
    seconds: float,
    processes: int,
    width: int,
) -> list[dict[str, Any]]:
    start_at = time.time() + START_DELAY_S  # all processes start measuring together
    futures = [
        pool.submit(target, url, account_ids, seconds, width, index, start_at)
        for index in range(processes)
    ]
    return [future.result(timeout=seconds + 120) for future in futures]


def _prepare_accounts(platform: Platform, count: int) -> list[int]:
    run = uuid.uuid4().hex[:8]
    source = AccountSpec(OwnerKind.PLATFORM, f"bench-{run}", Purpose.SUSPENSE)
    source_id = platform.ledger.open_accounts([source])[source.key]
    ids: list[int] = []
    for start in range(0, count, OPEN_BATCH_SIZE):
        specs = [  # customers' wallets, as most accounts are
            AccountSpec(OwnerKind.USER, f"bench-{run}-{n}", Purpose.WALLET)
            for n in range(start, min(count, start + OPEN_BATCH_SIZE))
        ]
        opened = platform.ledger.open_accounts(specs)
        batch_ids = [opened[spec.key] for spec in specs]
        platform.ledger.apply(
            [
                Transfer(f"bench-{run}-fund-{account_id}", source_id, account_id, FUNDING_FEN)
                for account_id in batch_ids
            ]
        )
        ids.extend(batch_ids)
    return ids


class _Ids:
    """Unique transfer ids, cheaply: uuid4 per transfer costs more than the ledger's rules."""

    def __init__(self, label: str) -> None:
        self.prefix = f"b{uuid.uuid4().hex[:10]}{label}-"
        self.next = 0

    def __call__(self) -> str:
        self.next += 1
        return f"{self.prefix}{self.next}"


def _transfer(account_ids: list[int], rng: random.Random, ids: _Ids) -> Transfer:
    count = len(account_ids)
    debit = account_ids[int(rng.random() * count)]
    credit = account_ids[int(rng.random() * count)]
    while credit == debit:
        credit = account_ids[int(rng.random() * count)]
    return Transfer(ids(), debit, credit, 1 + int(rng.random() * 100))


def _wait_until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def _single_worker(
    url: str, account_ids: list[int], seconds: float, threads: int, index: int, start_at: float
) -> dict[str, Any]:
    platform = build_platform(load_settings(database_url=url))
    counts = [0] * threads
    _wait_until(start_at)
    deadline = time.perf_counter() + seconds

    def loop(thread_index: int) -> None:
        rng = random.Random(index * 1000 + thread_index)
        ids = _Ids(f"s{index}t{thread_index}")
        while time.perf_counter() < deadline:
            outcome = platform.ledger.apply([_transfer(account_ids, rng, ids)])[0]
            assert outcome.result.succeeded, outcome.result
            counts[thread_index] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed_s = time.perf_counter() - started
    platform.close()
    return {"per_s": sum(counts) / elapsed_s}


def _group_worker(
    url: str, account_ids: list[int], seconds: float, submitters: int, index: int, start_at: float
) -> dict[str, Any]:
    platform = build_platform(load_settings(database_url=url))
    poster = platform.poster()
    latencies_ms: list[float] = []

    async def submitter(number: int, measure_from: float, deadline: float) -> None:
        rng = random.Random(index * 100_000 + number)
        ids = _Ids(f"g{index}n{number}")
        while (now := time.perf_counter()) < deadline:
            transfer = _transfer(account_ids, rng, ids)
            outcome = (await poster.submit_async([transfer]))[0]
            assert outcome.result.succeeded, outcome.result
            if now >= measure_from:
                latencies_ms.append((time.perf_counter() - now) * 1000)

    async def main() -> float:
        started = time.perf_counter()
        measure_from = started + WARMUP_S
        deadline = measure_from + seconds
        await asyncio.gather(*(submitter(n, measure_from, deadline) for n in range(submitters)))
        return time.perf_counter() - measure_from

    _wait_until(start_at)
    batches_before = poster.batches_committed
    elapsed_s = asyncio.run(main())
    batches = poster.batches_committed - batches_before
    platform.close()
    return {
        "per_s": len(latencies_ms) / elapsed_s,
        "latencies_ms": latencies_ms,
        "batches": batches,
    }


def format_table(result: dict[str, Any]) -> str:
    width = max(len(key) for key in result)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in result.items())
