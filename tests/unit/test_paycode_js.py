"""paycode.js under Node must agree bit for bit with domain/paycode.py and adapters/qr.py.

One Node process per test runs a batch of calls (tests/support/static_js.py). The SVGs the
script draws are rasterised with Pillow and read back with zxing-cpp. The QR encoder itself is
qr.js's, tested on its own in test_qr_js.py; here, what the payment code page draws with it.
"""

from __future__ import annotations

import base64
import io
import random
import re
from typing import Any

import pytest
import segno
from PIL import Image
from tests.support.static_js import NODE, STATIC, rasterise_svg, run_js

from paybao.adapters import qr
from paybao.domain.paycode import STEP_S, device_locator_digits, encode_with_locator

PAYCODE_JS = STATIC / "paycode.js"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def _run_js(calls: list[list[Any]]) -> list[Any]:
    # The page loads qr.js (the wallet's one QR encoder) before paycode.js; so does the test.
    return run_js("Paybao", ["qr.js", "paycode.js"], calls)


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
    assert _run_js([["paycode", seed_b64, locator, time_s]]) == [{"error": message, "code": None}]


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
    assert [qr.decode_image(rasterise_svg(svg)) for svg in svgs] == [[s] for s in strings]


# --- QR --------------------------------------------------------------------------------------


# A known code and the mask paycode.js chose for it (lowest penalty) before qr.js took over.
KNOWN_CODE, KNOWN_CODE_MASK = "266123446508023547", 4


def _svg_modules(svg: str) -> list[str]:
    """The symbol of a QR SVG drawn 1 px to a module, quiet zone (4 modules) cut, as 0/1 rows."""
    image = Image.open(io.BytesIO(rasterise_svg(svg)))
    side = image.width - 8
    return [
        "".join("1" if image.getpixel((4 + x, 4 + y)) == 0 else "0" for x in range(side))
        for y in range(side)
    ]


def _segno_modules(digits: str, mask: int) -> list[str]:
    reference = segno.make_qr(
        digits, version=1, error="m", mask=mask, mode="numeric", boost_error=False
    )
    return ["".join(str(module) for module in row) for row in reference.matrix]


@pytest.mark.parametrize("digits", [KNOWN_CODE, "1", "0123456789" * 3 + "0123"])
def test_js_qr_is_a_version_1_m_numeric_symbol(digits: str) -> None:
    [svg] = _run_js([["qrSvg", digits, {"modulePx": 1}]])
    assert 'width="29" height="29"' in svg and "<title>payment QR code</title>" in svg
    modules = _svg_modules(svg)
    assert any(modules == _segno_modules(digits, mask) for mask in range(8))


def test_js_qr_of_a_known_code_is_drawn_as_before() -> None:
    # A change here changes what tills scan from every phone: it must be deliberate.
    [svg] = _run_js([["qrSvg", KNOWN_CODE, {"modulePx": 1}]])
    assert _svg_modules(svg) == _segno_modules(KNOWN_CODE, KNOWN_CODE_MASK)


def test_js_qr_svg_decodes_with_zxing() -> None:
    rng = random.Random(9)
    codes = [f"{rng.randint(25, 30)}{rng.randrange(10**16):016d}" for _ in range(20)]
    svgs = _run_js([["qrSvg", code, {"modulePx": 4}] for code in codes])
    assert [qr.decode_image(rasterise_svg(svg)) for svg in svgs] == [[c] for c in codes]


def test_js_qr_refuses_what_1_m_numeric_cannot_hold() -> None:
    results = _run_js([["qrSvg", "1" * 35], ["qrSvg", "12a"], ["qrSvg", ""]])
    assert [result["code"] for result in results] == ["QR_TOO_LONG", None, None]
    assert results[1]["error"] == results[2]["error"] == "a payment code QR holds digits only"
