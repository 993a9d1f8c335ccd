"""paycode.js under Node must agree bit for bit with domain/paycode.py and adapters/qr.py.

One Node process per test runs a batch of calls (spawning Node per case would dominate the
run time). The SVGs the script draws are rasterised with Pillow and read back with zxing-cpp.
"""

from __future__ import annotations

import base64
import io
import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image, ImageDraw

from paybao.adapters import qr
from paybao.domain.paycode import STEP_S, device_locator_digits, encode_with_locator

PAYCODE_JS = Path(__file__).parents[2] / "src" / "paybao" / "web" / "static" / "paycode.js"
NODE = shutil.which("node")
NODE_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# Reads [[function name, args...], ...] as JSON on stdin and prints the results (or the error
# message of a call that threw) as JSON.
HARNESS = """
require(process.argv[1]);
const calls = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  const results = [];
  for (const [name, ...args] of calls) {
    try { results.push({ ok: await globalThis.Paybao[name](...args) }); }
    catch (error) { results.push({ error: String(error.message) }); }
  }
  process.stdout.write(JSON.stringify(results));
})();
"""


def _run_js(calls: list[list[Any]]) -> list[Any]:
    assert NODE is not None
    completed = subprocess.run(
        [NODE, "-e", HARNESS, str(PAYCODE_JS)],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    assert len(results) == len(calls)
    return [result.get("ok", result) for result in results]


def _random_cases(count: int, *, rng: random.Random) -> list[tuple[bytes, str, int]]:
    platform_key = rng.randbytes(32)
    cases = []
    for index in range(count):
        seed = rng.randbytes(32)
        locator = device_locator_digits(rng.randrange(10**9), platform_key)
        time_s = rng.choice([rng.randrange(2**31), rng.randrange(2**40), index * STEP_S - 1])
        cases.append((seed, locator, max(time_s, 0)))
    return cases


# --- the code --------------------------------------------------------------------------------


def test_js_codes_equal_python_codes() -> None:
    cases = _random_cases(600, rng=random.Random(11))
    calls = [["paycode", base64.b64encode(s).decode(), loc, t] for s, loc, t in cases]
    expected = [encode_with_locator(loc, s, t) for s, loc, t in cases]
    assert _run_js(calls) == expected


def test_js_codes_at_step_edges_and_every_prefix() -> None:
    seed, locator = bytes(range(32)), "000000042"
    times_s = [0, 1, 59, 60, 61, 119, 120, *range(1_700_000_000, 1_700_000_000 + 12 * 60, 30)]
    calls = [["paycode", base64.b64encode(seed).decode(), locator, t] for t in times_s]
    results = _run_js(calls)
    assert results == [encode_with_locator(locator, seed, t) for t in times_s]
    assert {code[:2] for code in results} == {"25", "26", "27", "28", "29", "30"}


def test_js_accepts_url_safe_unpadded_base64() -> None:
    seed = bytes([0xFB, 0xFF] * 16)  # encodes with '+' and '/' in standard base64
    locator, time_s = "123456789", 1_700_000_123
    url_safe = base64.urlsafe_b64encode(seed).decode().rstrip("=")
    standard = base64.b64encode(seed).decode()
    results = _run_js(
        [["paycode", url_safe, locator, time_s], ["paycode", standard, locator, time_s]]
    )
    assert results == [encode_with_locator(locator, seed, time_s)] * 2


@pytest.mark.parametrize(
    ("seed_b64", "locator", "time_s", "message"),
    [
        (base64.b64encode(bytes(16)).decode(), "123456789", 0, "seed must be 32 bytes"),
        (base64.b64encode(bytes(32)).decode(), "12345678", 0, "locator must be 9 digits"),
        (base64.b64encode(bytes(32)).decode(), "12345678x", 0, "locator must be 9 digits"),
        (base64.b64encode(bytes(32)).decode(), "123456789", -60, "bad unix time"),
        (base64.b64encode(bytes(32)).decode(), "123456789", 1.5, "bad unix time"),
    ],
)
def test_js_refuses_bad_input(seed_b64: str, locator: str, time_s: float, message: str) -> None:
    assert _run_js([["paycode", seed_b64, locator, time_s]]) == [{"error": message}]


def test_js_seconds_left_in_step() -> None:
    assert _run_js([["secondsLeftInStep", t] for t in (0, 59, 60, 125)]) == [60, 1, 60, 55]


def test_the_script_is_self_contained() -> None:
    source = PAYCODE_JS.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|export)\b", source, flags=re.MULTILINE)
    assert "http://" not in source.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in source


# --- Code128 ---------------------------------------------------------------------------------


def _digit_strings(rng: random.Random) -> list[str]:
    strings = ["0", "00", "266123446508023547", "".join(f"{v:02d}" for v in range(100))]
    strings += ["".join(rng.choices("0123456789", k=rng.randint(1, 40))) for _ in range(60)]
    return strings


def test_js_code128_modules_equal_python() -> None:
    strings = _digit_strings(random.Random(3))
    assert _run_js([["code128Modules", s] for s in strings]) == [
        qr.code128_modules(s) for s in strings
    ]


def test_js_code128_svg_decodes_with_zxing() -> None:
    strings = [f"{n}{random.Random(n).randrange(10**16):016d}" for n in range(25, 31)] + ["7"]
    svgs = _run_js([["code128Svg", s, {"modulePx": 2, "heightPx": 60}] for s in strings])
    assert [qr.decode_image(_rasterise_rect_svg(svg)) for svg in svgs] == [[s] for s in strings]


# --- QR --------------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", ["266123446508023547", "1", "0123456789" * 3 + "0123"])
def test_js_qr_matrix_equals_segno_for_every_mask(digits: str) -> None:
    matrices = _run_js([["qrMatrix", digits, mask] for mask in range(8)])
    for mask, matrix in enumerate(matrices):
        reference = segno.make_qr(
            digits, version=1, error="m", mask=mask, mode="numeric", boost_error=False
        )
        assert matrix == [[bool(module) for module in row] for row in reference.matrix], mask


def test_js_qr_svg_decodes_with_zxing() -> None:
    rng = random.Random(9)
    codes = [f"{rng.randint(25, 30)}{rng.randrange(10**16):016d}" for _ in range(20)]
    svgs = _run_js([["qrSvg", code, {"modulePx": 4}] for code in codes])
    assert [qr.decode_image(_rasterise_rect_svg(svg)) for svg in svgs] == [[c] for c in codes]


def test_js_qr_refuses_what_1_m_numeric_cannot_hold() -> None:
    results = _run_js([["qrMatrix", "1" * 35], ["qrMatrix", "12a"], ["qrMatrix", ""]])
    assert results == [{"error": "QR 1-M numeric holds 1..34 digits"}] * 3


def _rasterise_rect_svg(svg: str) -> bytes:
    """Draw the script's SVG (a white background and black <rect>s) with Pillow."""
    width_px = int(re.search(r'<svg[^>]* width="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    height_px = int(re.search(r'<svg[^>]* height="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    image = Image.new("L", (width_px, height_px), 255)
    draw = ImageDraw.Draw(image)
    rect = r'<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"/>'
    for x, y, width, height in (map(int, found) for found in re.findall(rect, svg)):
        draw.rectangle((x, y, x + width - 1, y + height - 1), fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
