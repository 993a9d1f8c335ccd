"""How an archive is wrapped (ArchiveForm) in the manifest, and BackupService refusing to judge
a backup it could not open for want of the right key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.unit.test_backup_service import MANIFEST, FakeIO, _opened, _service

from paybao.services.backups import (
    PLAIN,
    ArchiveForm,
    BackupFailed,
    Manifest,
    OpenedArchive,
    VerifyReport,
    iter_lines,
)

SEALED = ArchiveForm("gzip", "aes-256-gcm-stream/1")


def test_the_manifest_carries_the_form_and_reads_old_manifests_without_it() -> None:
    sealed = replace(MANIFEST, archive=SEALED)
    data = sealed.to_json()
    assert data["archive"] == {"compression": "gzip", "encryption": "aes-256-gcm-stream/1"}
    assert Manifest.from_json(data) == sealed
    old = MANIFEST.to_json()
    assert "archive" not in old  # what versions before compression wrote
    assert Manifest.from_json(old).archive is None
    with pytest.raises(BackupFailed) as caught:
        Manifest.from_json({**data, "archive": {"compression": "lz4"}})
    assert caught.value.code == "backup_unreadable"


def test_forms_describe_themselves() -> None:
    assert PLAIN.describe() == "uncompressed, not encrypted"
    assert SEALED.describe() == "gzip-compressed, encrypted (aes-256-gcm-stream/1)"
    assert ArchiveForm.from_json(SEALED.to_json()) == SEALED


class _Refusing(FakeIO):
    def __init__(self, code: str) -> None:
        super().__init__(_opened(), target_dialect="sqlite", empty=True)
        self.code = code

    def open_archive(self, path: Path, work_dir: Path) -> OpenedArchive:
        raise BackupFailed("cannot open", code=self.code)


@pytest.mark.parametrize("code", ["backup_key_required", "backup_key_wrong", "backup_key_invalid"])
def test_verify_without_the_right_key_is_refused_not_judged(code: str) -> None:
    io = _Refusing(code)
    with pytest.raises(BackupFailed) as caught:
        _service(io).verify(Path("/b.bak"), "")
    assert caught.value.code == code
    assert io.calls == []


def test_a_damaged_archive_is_judged_with_its_reason() -> None:
    io = _Refusing("backup_corrupt")
    report = _service(io).verify(Path("/b.bak"), "")
    assert not report.ok and io.calls == []
    assert [(p.kind, p.subject) for p in report.problems] == [
        ("backup_corrupt", "/b.bak: cannot open")
    ]


def test_verify_and_restore_report_the_form_read_from_the_file() -> None:
    io = FakeIO(_opened(form=SEALED), target_dialect="sqlite", empty=True)
    report = _service(io).verify(Path("/b.bak"), "")
    assert report.ok and report.form == SEALED
    assert next(iter_lines(report)) == "archive: gzip-compressed, encrypted (aes-256-gcm-stream/1)"
    assert _service(io).restore(Path("/b.bak"), "db://t", keys_to=None).form == SEALED
    assert list(iter_lines(VerifyReport()))[-1] == "backup NOT verified"
