"""docs/operations.md and deploy/ say only what the code does: every PAYBAO_* name is a setting
(or an option's environment variable), every `paybao ...` command and its --options parse,
the example environment loads, nginx's body limits cover paybao's own, and the systemd units
pass `systemd-analyze verify` where that tool exists."""

from __future__ import annotations

import functools
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from paybao.adapters.alipay.wire import REQUEST_BODY_SIZE_MAX_BYTES
from paybao.adapters.qr import IMAGE_BYTES_MAX
from paybao.cli import app
from paybao.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "operations.md"
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / "paybao.env.example"
UNITS = sorted((DEPLOY / "systemd").glob("paybao-*"))
NGINX = DEPLOY / "nginx" / "paybao.conf"
runner = CliRunner()


def _option_env_vars() -> set[str]:
    """PAYBAO_* names the CLI reads as options' environment variables (not settings)."""
    found: set[str] = set()
    for path in (ROOT / "src" / "paybao").glob("cli*.py"):
        found |= set(re.findall(r"\"(PAYBAO_[A-Z0-9_]+)\"", path.read_text()))
    return found


KNOWN = {f"PAYBAO_{name.upper()}" for name in Settings.model_fields} | _option_env_vars()


def _texts() -> dict[str, str]:
    files = [DOCS, ENV_EXAMPLE, NGINX, *UNITS]
    return {path.name: path.read_text() for path in files}


def test_every_paybao_variable_named_exists() -> None:
    for name, text in _texts().items():
        unknown = set(re.findall(r"PAYBAO_[A-Z0-9_]+", text)) - KNOWN
        assert not unknown, f"{name}: {sorted(unknown)}"


def test_the_example_environment_loads_and_is_production_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pairs = [
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(pairs) >= 10
    for name, value in pairs:
        assert name in KNOWN, name
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.sandbox is False
    assert settings.base_url.startswith("https://")
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.run_worker_in_server is False
    assert (
        settings.notify_retry_schedule_s == Settings.model_fields["notify_retry_schedule_s"].default
    )
    assert settings.admin_token == ""


def _commands(text: str) -> list[str]:
    """`paybao ...` in inline code, and command lines in code blocks and unit files."""
    inline = re.findall(r"`paybao ([^`]+)`", text)
    lines = re.findall(r"(?m)(?:^[ \t]*|bin/)paybao ([a-z][^#'\n;]*)", text)
    return [" ".join(command.split()) for command in inline + lines]


@functools.cache
def _click_app() -> Any:
    # Built once: Typer rebuilds the whole command tree (every command's signature) on each
    # call, 0.1 s, and the docs name about 70 command lines.
    return typer.main.get_command(app)


def _resolve(words: list[str]) -> tuple[list[str], Any]:
    """The subcommand path the words name, and its command (Typer's own click classes)."""
    command: Any = _click_app()
    path: list[str] = []
    for word in words:
        if not hasattr(command, "commands") or word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
    return path, command


def test_every_paybao_command_and_option_parses() -> None:
    seen: set[str] = set()
    for name, text in _texts().items():
        for command_line in _commands(text):
            words = shlex.split(command_line)
            path, command = _resolve(words)
            assert path and not hasattr(command, "commands"), f"{name}: paybao {command_line}"
            options = {opt for param in command.params for opt in param.opts + param.secondary_opts}
            for word in words:
                if word.startswith("--"):
                    assert word.split("=")[0] in options | {"--help"}, (
                        f"{name}: paybao {command_line}: {word}"
                    )
            key = " ".join(path)
            if key not in seen:
                seen.add(key)
                result = runner.invoke(app, [*path, "--help"])
                assert result.exit_code == 0, f"paybao {key} --help: {result.output}"
    # The guide's core commands are all there.
    assert {"preflight", "serve", "worker", "db upgrade", "db backup", "db verify-backup"} <= seen


def test_nginx_body_limits_cover_paybaos_own() -> None:
    text = NGINX.read_text()
    sizes = dict(re.findall(r"location = (/\S+) \{\s*client_max_body_size (\d+)k;", text))
    assert int(sizes["/gateway.do"]) * 1024 >= REQUEST_BODY_SIZE_MAX_BYTES
    [server_wide] = re.findall(r"(?m)^    client_max_body_size (\d+)m;", text)
    assert int(server_wide) * 1024 * 1024 > IMAGE_BYTES_MAX
    assert "keepalive_timeout 4s" in text  # shorter than uvicorn's 5 s (cli.py serve)


def test_serve_passes_forwarded_allow_ips_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    assert runner.invoke(app, ["serve", "--forwarded-allow-ips", "10.0.0.5"]).exit_code == 0
    assert runner.invoke(app, ["serve"]).exit_code == 0
    assert [c["forwarded_allow_ips"] for c in calls] == ["10.0.0.5", None]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_units_verify(tmp_path: Path) -> None:
    paybao = Path(sys.executable).parent / "paybao"
    assert paybao.exists()
    for unit in UNITS:
        text = unit.read_text().replace("/srv/paybao/.venv/bin/paybao", str(paybao))
        (tmp_path / unit.name).write_text(text)
    assert {u.name for u in UNITS} == {
        "paybao-serve.service",
        "paybao-worker.service",
        "paybao-backup.service",
        "paybao-backup.timer",
    }
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""
