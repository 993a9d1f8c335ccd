"""Worker heartbeats: each worker loop records host:pid, start, last beat and what it ran, at a
bounded rate; the admin health page lists recent workers and flags stale ones; /healthz and
/metrics carry the freshest beat's age; old rows are pruned."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.integration import admin_support
from tests.integration.admin_support import create_operator

from paybao.adapters.db.tables.operations import worker_heartbeats
from paybao.bootstrap import Platform
from paybao.services.heartbeats import Heartbeats, WorkerHeartbeat
from paybao.workers.runner import run_forever, start_thread

US_PER_S = 1_000_000


class FakeMonotonic:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def _heartbeats(platform: Platform) -> Heartbeats:
    found: Heartbeats = platform.services["heartbeats"]
    return found


def _rows(platform: Platform) -> dict[str, Any]:
    with platform.engine.connect() as connection:
        return {row.worker_id: row for row in connection.execute(select(worker_heartbeats))}


def _advance(platform: Platform, seconds: int) -> None:
    clock = platform.clock
    clock.set_offset_us(clock.offset_us(fresh=True) + seconds * US_PER_S)


def _beat(platform: Platform, worker_id: str) -> tuple[WorkerHeartbeat, FakeMonotonic]:
    monotonic = FakeMonotonic()
    beat = _heartbeats(platform).worker(worker_id, monotonic=monotonic)
    assert beat.beat_if_due()
    return beat, monotonic


@pytest.fixture
def admin(platform: Platform, client: TestClient) -> TestClient:
    _, secret = create_operator(platform)
    signed_in: Any = admin_support.sign_in(client, secret)
    assert signed_in.status_code == 303
    client.headers["Accept-Language"] = "en"
    return client


def test_a_running_worker_beats_under_host_and_pid_and_says_goodbye_when_stopped(
    platform: Platform, admin: TestClient
) -> None:
    thread, stop = start_thread(platform)
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    deadline = time.monotonic() + 10
    while worker_id not in _rows(platform) and time.monotonic() < deadline:
        time.sleep(0.05)
    row = _rows(platform)[worker_id]
    assert row.stopped_at_us is None and row.passes >= 1
    assert row.started_at_us <= row.beat_at_us <= platform.clock.now_us()

    page = admin.get("/admin/health")
    assert page.status_code == 200
    assert 'id="health-workers" data-live="1"' in page.text
    assert f'data-worker="{worker_id}" data-state="live"' in page.text
    assert 'id="no-live-worker"' not in page.text

    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    stopped = _rows(platform)[worker_id]
    assert stopped.stopped_at_us is not None and stopped.passes >= row.passes
    page = admin.get("/admin/health")
    assert f'data-worker="{worker_id}" data-state="stopped"' in page.text
    assert 'id="no-live-worker"' in page.text


def test_beats_are_written_at_most_once_per_interval_with_what_the_worker_ran(
    platform: Platform,
) -> None:
    interval_s = _heartbeats(platform).policy.interval_s
    beat, monotonic = _beat(platform, "host-a:1")
    for _ in range(10):
        beat.counted(jobs_run=2, swept=1)
        assert not beat.beat_if_due()  # no time has passed: nothing written
        monotonic.now_s += interval_s / 20
    assert _rows(platform)["host-a:1"].passes == 0
    monotonic.now_s += interval_s
    assert beat.beat_if_due()
    row = _rows(platform)["host-a:1"]
    assert (row.passes, row.jobs_run, row.swept, row.errors) == (10, 20, 10, 0)
    assert row.last_work_at_us is not None


def test_errors_are_counted_and_the_last_one_kept(platform: Platform) -> None:
    def broken_sweep() -> int:
        raise RuntimeError("sweep exploded")

    platform.sweeps.append(broken_sweep)
    stop = threading.Event()
    monotonic = FakeMonotonic()
    beat = _heartbeats(platform).worker("host-b:2", monotonic=monotonic)
    original = beat.counted

    def count_then_stop(**counts: Any) -> None:
        original(**counts)
        stop.set()

    beat.counted = count_then_stop  # type: ignore[method-assign]
    run_forever(platform, stop, heartbeat=beat)
    row = _rows(platform)["host-b:2"]
    assert (row.passes, row.errors) == (1, 1)
    assert row.last_error == "RuntimeError: sweep exploded"
    assert row.stopped_at_us is not None


def test_a_stale_worker_is_flagged_on_the_page_healthz_and_metrics(
    platform: Platform, admin: TestClient
) -> None:
    _beat(platform, "host-c:3")
    fresh = admin.get("/healthz").json()
    assert fresh["status"] == "ok"
    assert fresh["worker"]["live"] == 1 and fresh["worker"]["freshest_beat_age_s"] < 5

    stale_s = _heartbeats(platform).policy.stale_s
    _advance(platform, stale_s + 30)
    page = admin.get("/admin/health")
    assert 'data-worker="host-c:3" data-state="stale"' in page.text
    assert 'id="no-live-worker"' in page.text
    assert "Stale" in page.text
    age = float(re.search(r'data-age="([\d.]+)"', page.text).group(1))  # type: ignore[union-attr]
    assert age >= stale_s + 30

    health = admin.get("/healthz")
    assert health.status_code == 200  # the server still serves; the worker is for an alert
    worker = health.json()["worker"]
    assert (worker["live"], worker["stale"]) == (0, 1)
    assert worker["freshest_beat_age_s"] >= stale_s + 30

    scraped = admin.get("/metrics").text
    age_line = re.search(r"^paybao_worker_heartbeat_age_seconds ([\d.e+]+)$", scraped, re.M)
    assert age_line and float(age_line.group(1)) >= stale_s + 30
    assert re.search(r"^paybao_workers_live 0\.0$", scraped, re.M)
    assert re.search(r"^paybao_workers_stale 1\.0$", scraped, re.M)


def test_no_worker_at_all_reads_as_infinitely_old(platform: Platform, client: TestClient) -> None:
    assert client.get("/healthz").json()["worker"] == {
        "live": 0,
        "stale": 0,
        "freshest_beat_age_s": None,
    }
    scraped = client.get("/metrics").text
    assert re.search(r"^paybao_worker_heartbeat_age_seconds \+Inf$", scraped, re.M)


def test_the_page_lists_only_recent_workers_and_beats_prune_old_rows(
    platform: Platform, admin: TestClient
) -> None:
    policy = _heartbeats(platform).policy
    _beat(platform, "old-host:4")
    _advance(platform, policy.shown_s + 60)
    _beat(platform, "new-host:5")
    page = admin.get("/admin/health")
    assert 'data-worker="new-host:5"' in page.text
    assert 'data-worker="old-host:4"' not in page.text  # not seen recently: not shown
    assert set(_rows(platform)) == {"old-host:4", "new-host:5"}  # but kept a while

    _advance(platform, policy.keep_s)
    _beat(platform, "newer-host:6")  # every beat prunes what is past the keep period
    assert set(_rows(platform)) == {"newer-host:6"}
    with platform.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(worker_heartbeats))
        assert count.scalar_one() == 1


def test_a_heartbeat_that_cannot_be_written_does_not_stop_the_worker(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    heartbeats = _heartbeats(platform)
    attempts: list[object] = []

    def failing_save(beat: object) -> None:
        attempts.append(beat)
        raise OSError("database unreachable")

    monkeypatch.setattr(heartbeats, "save", failing_save)
    monotonic = FakeMonotonic()
    beat = heartbeats.worker("host-d:7", monotonic=monotonic)
    assert not beat.beat_if_due()
    assert not beat.beat_if_due()  # a failed write also waits out the interval
    assert len(attempts) == 1
    beat.stop()  # never raises either
    assert "host-d:7" not in _rows(platform)
