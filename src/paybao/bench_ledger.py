"""`paybao bench ledger`: one transfer per commit vs group commit, on a given database.

It creates its own accounts (keys `platform:bench-<run>-<n>:...`), so run it against a
throw-away database; `bench/ledger.sh` does that for SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
import uuid
from typing import Any

from paybao.bootstrap import build_platform
from paybao.domain.accounts import AccountSpec, OwnerKind, Purpose
from paybao.domain.ledger import Transfer
from paybao.settings import load_settings

FUNDING_FEN = 10**12
OPEN_BATCH_SIZE = 1000


def run_benchmark(
    url: str, *, seconds: float, submitters: int, single_threads: int, accounts: int
) -> dict[str, Any]:
    platform = build_platform(load_settings(database_url=url), migrate=True)
    try:
        account_ids = _prepare_accounts(platform, accounts)
        single_per_s = _single_commit(platform, account_ids, seconds / 2, single_threads)
        group = _group_commit(platform, account_ids, seconds / 2, submitters)
        report = platform.reconcile.run()
    finally:
        platform.close()
    return {
        "database": platform.db.dialect,
        "single_commit_per_s": round(single_per_s, 1),
        "group_commit_per_s": round(group["per_s"], 1),
        "group_commit_p50_ms": round(group["p50_ms"], 2),
        "group_commit_p99_ms": round(group["p99_ms"], 2),
        "submitters": submitters,
        "single_commit_threads": single_threads,
        "group_commit_batches": group["batches"],
        "group_commit_mean_batch": round(group["mean_batch"], 1),
        "accounts": accounts,
        "seconds": seconds,
        "reconcile_clean": report.clean,
    }


def _prepare_accounts(platform: Any, count: int) -> list[int]:
    run = uuid.uuid4().hex[:8]
    source = AccountSpec(OwnerKind.PLATFORM, f"bench-{run}", Purpose.SUSPENSE)
    source_id = platform.ledger.open_accounts([source])[source.key]
    ids: list[int] = []
    for start in range(0, count, OPEN_BATCH_SIZE):
        specs = [
            AccountSpec(OwnerKind.PLATFORM, f"bench-{run}-{n}", Purpose.WALLET)
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


def _transfer(account_ids: list[int], rng: random.Random) -> Transfer:
    debit, credit = rng.sample(account_ids, 2)
    return Transfer(uuid.uuid4().hex, debit, credit, rng.randint(1, 100))


def _single_commit(platform: Any, account_ids: list[int], seconds: float, threads: int) -> float:
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(index: int) -> None:
        rng = random.Random(index)
        while time.perf_counter() < deadline:
            outcome = platform.ledger.apply([_transfer(account_ids, rng)])[0]
            assert outcome.result.succeeded, outcome.result
            counts[index] += 1

    started = time.perf_counter()
    _run_threads(loop, threads)
    return sum(counts) / (time.perf_counter() - started)


def _group_commit(
    platform: Any, account_ids: list[int], seconds: float, submitters: int
) -> dict[str, float]:
    """Submitters are asyncio tasks, as concurrent requests in one server process are; the
    poster commits on its own thread while they wait."""
    poster = platform.poster()
    latencies_ms: list[float] = []
    batches_before = poster.batches_committed

    async def submitter(index: int, deadline: float) -> None:
        rng = random.Random(1000 + index)
        while time.perf_counter() < deadline:
            transfer = _transfer(account_ids, rng)
            began = time.perf_counter()
            outcome = (await poster.submit_async([transfer]))[0]
            latencies_ms.append((time.perf_counter() - began) * 1000)
            assert outcome.result.succeeded, outcome.result

    async def main() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(submitter(i, deadline) for i in range(submitters)))
        return time.perf_counter() - started

    elapsed_s = asyncio.run(main())
    every = sorted(latencies_ms)
    batches = poster.batches_committed - batches_before
    return {
        "per_s": len(every) / elapsed_s,
        "p50_ms": statistics.median(every),
        "p99_ms": every[min(len(every) - 1, int(len(every) * 0.99))],
        "batches": batches,
        "mean_batch": len(every) / max(batches, 1),
    }


def _run_threads(target: Any, count: int) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def format_table(result: dict[str, Any]) -> str:
    width = max(len(key) for key in result)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in result.items())
