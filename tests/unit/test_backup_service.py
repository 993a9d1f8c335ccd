"""BackupService's decisions on a fake IO: what makes an archive untrustworthy, what a restore
refuses before it touches the target, and the manifest's round trip."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from paybao.services.backups import (
    BackupFailed,
    BackupService,
    KeyEntry,
    Manifest,
    MoneyFacts,
    OpenedArchive,
    PostedTotals,
    Snapshot,
    archive_problems,
    money_problems,
)
from paybao.services.reconcile import Difference, ReconcileReport

MONEY = MoneyFacts(3, 2, {"CNY": PostedTotals(500, 500)})
MANIFEST = Manifest(
    created_at="2024-05-01T00:00:00+00:00",
    dialect="sqlite",
    alembic_revisions=("0034_statements",),
    paybao_version="0.1.0",
    dump_name="database.sqlite3",
    dump_bytes=4096,
    dump_sha256="ab" * 32,
    money=MONEY,
    same_snapshot=True,
    keys=(KeyEntry("paycode.key", "cd" * 32),),
)


def _opened(manifest: Manifest = MANIFEST, **changes: Any) -> OpenedArchive:
    parts: dict[str, Any] = {
        "manifest": manifest,
        "dump_path": Path("/nowhere/database.sqlite3"),
        "dump_sha256": manifest.dump_sha256,
        "dump_bytes": manifest.dump_bytes,
        "key_sha256": {k.name: k.sha256 for k in manifest.keys},
        "key_paths": {k.name: Path(f"/nowhere/{k.name}") for k in manifest.keys},
    }
    return OpenedArchive(**{**parts, **changes})


class FakeIO:
    def __init__(self, opened: OpenedArchive, *, target_dialect: str, empty: bool) -> None:
        self.opened = opened
        self.target_dialect = target_dialect
        self.empty = empty
        self.calls: list[str] = []
        self.restored_money = MONEY

    @contextmanager
    def work_dir(self, near: Path) -> Iterator[Path]:
        yield Path("/work")

    def snapshot(self, url: str, work_dir: Path) -> Snapshot:
        raise AssertionError("not used")

    def file_sha256(self, path: Path) -> str:
        return "00" * 32

    def key_files(self, data_dir: Path) -> list[Path]:
        return []

    def write_archive(
        self, to: Path, manifest: dict[str, Any], dump: Path, keys: Sequence[Path]
    ) -> None:
        raise AssertionError("not used")

    def open_archive(self, path: Path, work_dir: Path) -> OpenedArchive:
        return self.opened

    @contextmanager
    def scratch_database(self, dialect: str, server_url: str, work_dir: Path) -> Iterator[str]:
        self.calls.append("scratch")
        yield "sqlite:///scratch"

    def dialect_of(self, url: str) -> str:
        return self.target_dialect

    def is_empty(self, url: str) -> bool:
        return self.empty

    def load_dump(self, dialect: str, dump: Path, url: str) -> None:
        self.calls.append(f"load {url}")

    def read_facts(self, url: str) -> tuple[tuple[str, ...], MoneyFacts]:
        return MANIFEST.alembic_revisions, self.restored_money

    def upgrade(self, url: str) -> None:
        self.calls.append(f"upgrade {url}")

    def write_keys(self, key_paths: Mapping[str, Path], to_dir: Path) -> list[str]:
        return sorted(key_paths)


def _service(io: FakeIO, report: ReconcileReport | None = None) -> BackupService:
    return BackupService(
        io,
        lambda url, keys: report or ReconcileReport(checks_run=["x"], totals={"x": 0}),
        version="0.1.0",
        now_iso=lambda: "2024-05-01T00:00:00+00:00",
    )


def test_manifest_round_trips_and_refuses_what_it_cannot_read() -> None:
    assert Manifest.from_json(MANIFEST.to_json()) == MANIFEST
    broken = MANIFEST.to_json()
    broken["money"]["ledger_transfers"] = -1
    with pytest.raises(BackupFailed) as caught:
        Manifest.from_json(broken)
    assert caught.value.code == "backup_unreadable"
    with pytest.raises(BackupFailed):
        Manifest.from_json({**MANIFEST.to_json(), "format": "something-else/9"})


def test_archive_problems_name_each_mismatch() -> None:
    assert archive_problems(_opened()) == []
    bad = _opened(dump_sha256="ff" * 32, dump_bytes=1, key_sha256={}, key_paths={})
    kinds = [p.kind for p in archive_problems(bad)]
    assert kinds == ["dump_sha256_mismatch", "dump_size_mismatch", "key_file_mismatch"]
    unbalanced = replace(MANIFEST, money=MoneyFacts(3, 2, {"CNY": PostedTotals(500, 499)}))
    assert [p.kind for p in archive_problems(_opened(unbalanced))] == ["manifest_ledger_unbalanced"]


def test_money_problems_compare_counts_totals_and_revision() -> None:
    assert money_problems(MANIFEST, MANIFEST.alembic_revisions, MONEY) == []
    restored = MoneyFacts(3, 1, {"CNY": PostedTotals(400, 500), "USD": PostedTotals(1, 1)})
    found = money_problems(MANIFEST, ("0033_parking_more",), restored)
    assert [(p.kind, p.subject) for p in found] == [
        ("revision_mismatch", "alembic_version"),
        ("money_facts_mismatch", "ledger_transfers"),
        ("money_facts_mismatch", "posted CNY"),
        ("money_facts_mismatch", "posted USD"),
        ("restored_ledger_unbalanced", "posted debits vs credits"),
    ]


def test_verify_restores_nothing_from_a_corrupt_archive() -> None:
    io = FakeIO(_opened(dump_sha256="ff" * 32), target_dialect="sqlite", empty=True)
    report = _service(io).verify(Path("/b.tar"), "")
    assert not report.ok and report.reconcile is None
    assert io.calls == []


def test_verify_fails_on_a_reconcile_difference_or_a_fact_mismatch() -> None:
    io = FakeIO(_opened(), target_dialect="sqlite", empty=True)
    assert _service(io).verify(Path("/b.tar"), "").ok
    assert io.calls == ["scratch", "load sqlite:///scratch", "upgrade sqlite:///scratch"]
    dirty = ReconcileReport(
        checks_run=["x"], totals={"x": 1}, differences=[Difference("posted_not_balanced", "CNY")]
    )
    assert not _service(io, dirty).verify(Path("/b.tar"), "").ok
    io.restored_money = MoneyFacts(3, 3, MONEY.posted)
    report = _service(io).verify(Path("/b.tar"), "")
    assert not report.ok and [p.kind for p in report.problems] == ["money_facts_mismatch"]


@pytest.mark.parametrize(
    ("dialect", "empty", "code"),
    [
        ("postgresql", True, "backup_dialect_mismatch"),
        ("sqlite", False, "restore_target_not_empty"),
    ],
)
def test_restore_refuses_before_touching_the_target(dialect: str, empty: bool, code: str) -> None:
    io = FakeIO(_opened(), target_dialect=dialect, empty=empty)
    with pytest.raises(BackupFailed) as caught:
        _service(io).restore(Path("/b.tar"), "db://target", keys_to=None)
    assert caught.value.code == code
    assert io.calls == []


def test_restore_loads_then_upgrades() -> None:
    io = FakeIO(_opened(), target_dialect="sqlite", empty=True)
    report = _service(io).restore(Path("/b.tar"), "db://target", keys_to=Path("/keys"))
    assert io.calls == ["load db://target", "upgrade db://target"]
    assert report.keys_written == ("paycode.key",)
