"""The official Node SDK (`alipay-sdk` on npm) for the contract tests: installed once per version
into a cache folder, driven by one small script that runs a list of SDK calls.

The install goes to `$PAYBAO_TEST_NODE_CACHE` (default `~/.cache/paybao-test-node`) under a
folder named after the version, built in a temporary folder and renamed into place, under a file
lock, so parallel test workers install it once. A missing `node` or `npm` FAILS the test with a
clear message: CI has them, and a skipped contract test would hide a broken protocol.

`run_node(config, calls)` writes the runner script to a temporary file, sends
`{"config": ..., "calls": [...]}` as JSON on stdin and reads one JSON array on stdout: per call
`{"ok": true, "value": ...}` or `{"ok": false, "error": {name, message, code, status}}`.
Calls: `exec`, `pageExec`, `sdkExecute`, `curl`, `checkNotifySign`, `checkNotifySignV2`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pytest

NODE_SDK_VERSION: Final = "4.14.0"
INSTALL_TIMEOUT_S: Final = 300
RUN_TIMEOUT_S: Final = 60

RUNNER: Final = r"""
'use strict';
const { AlipaySdk } = require('alipay-sdk');

function describe(error) {
  return {
    name: error && error.name,
    message: String(error && error.message),
    code: error && error.code,
    status: error && error.responseHttpStatus,
  };
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const sdk = new AlipaySdk(input.config);
  const results = [];
  for (const call of input.calls) {
    try {
      let value;
      switch (call.kind) {
        case 'exec':
          value = await sdk.exec(call.method, call.params, call.options || {});
          break;
        case 'pageExec':
          value = sdk.pageExec(call.method, call.httpMethod || 'GET', call.params);
          break;
        case 'sdkExecute':
          value = sdk.sdkExecute(call.method, call.params);
          break;
        case 'curl': {
          const answer = await sdk.curl(call.httpMethod, call.path, call.options || {});
          value = { data: answer.data, status: answer.responseHttpStatus };
          break;
        }
        case 'checkNotifySign':
          value = sdk.checkNotifySign(call.form);
          break;
        case 'checkNotifySignV2':
          value = sdk.checkNotifySignV2(call.form);
          break;
        default:
          throw new Error('unknown call kind ' + call.kind);
      }
      results.push({ ok: true, value });
    } catch (error) {
      results.push({ ok: false, error: describe(error) });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(2);
});
"""


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"`{tool}` is not on PATH: the Node SDK contract tests need Node.js >= 18 and npm "
            "(with access to the npm registry for the first install)",
            pytrace=False,
        )
    return path


def cache_root() -> Path:
    configured = os.environ.get("PAYBAO_TEST_NODE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "paybao-test-node"


def _installed(prefix: Path) -> bool:
    package = prefix / "node_modules" / "alipay-sdk" / "package.json"
    try:
        return bool(json.loads(package.read_text())["version"] == NODE_SDK_VERSION)
    except (OSError, ValueError, KeyError):
        return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install_node_sdk() -> Path:
    """The prefix folder holding node_modules/alipay-sdk at NODE_SDK_VERSION."""
    _require("node")
    npm = _require("npm")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    prefix = root / f"alipay-sdk-{NODE_SDK_VERSION}"
    if _installed(prefix):
        return prefix
    with _locked(root / ".install.lock"):
        if _installed(prefix):
            return prefix
        staging = Path(tempfile.mkdtemp(prefix="install-", dir=root))
        try:
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(staging),
                    "--no-audit",
                    "--no-fund",
                    "--no-save",
                    "--loglevel=error",
                    f"alipay-sdk@{NODE_SDK_VERSION}",
                ],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
            if done.returncode != 0 or not _installed(staging):
                pytest.fail(
                    f"npm install alipay-sdk@{NODE_SDK_VERSION} failed "
                    f"(exit {done.returncode}): {done.stderr[-2000:]}",
                    pytrace=False,
                )
            shutil.rmtree(prefix, ignore_errors=True)
            staging.rename(prefix)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return prefix


def run_node(
    prefix: Path, config: Mapping[str, Any], calls: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Run the calls in one Node process; their results in order."""
    node = _require("node")
    with tempfile.TemporaryDirectory(prefix="paybao-node-") as folder:
        script = Path(folder) / "runner.cjs"
        script.write_text(RUNNER)
        done = subprocess.run(
            [node, str(script)],
            input=json.dumps({"config": dict(config), "calls": list(calls)}),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
            env={**os.environ, "NODE_PATH": str(prefix / "node_modules")},
        )
    if done.returncode != 0:
        raise AssertionError(f"node runner failed ({done.returncode}): {done.stderr[-4000:]}")
    results: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(results) == len(calls), results
    return results


def value(result: Mapping[str, Any]) -> Any:
    """The value of a call that must have succeeded."""
    assert result["ok"], result
    return result["value"]


def error(result: Mapping[str, Any]) -> dict[str, Any]:
    """The error of a call that must have failed."""
    assert not result["ok"], result
    return dict(result["error"])
