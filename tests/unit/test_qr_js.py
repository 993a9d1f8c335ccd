"""qr.js, the one QR encoder of the wallet's pages (the payment code and the ride code), under
Node: every version and level equals segno module for module, the smallest version that holds
the input is chosen at every boundary, and what it draws decodes (zxing-cpp, through
paybao.adapters.qr.decode_image) to the input."""

from __future__ import annotations

import base64
import random
import re
from typing import Any

import pytest
import segno
import segno.consts
import segno.encoder
from tests.support.static_js import NODE, STATIC, js_bytes, rasterise_svg, run_js

from paybao.adapters import qr

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

VERSIONS = range(1, 41)
LEVELS = ("L", "M", "Q", "H")
SEGNO_LEVEL = {
    "L": segno.consts.ERROR_LEVEL_L,
    "M": segno.consts.ERROR_LEVEL_M,
    "Q": segno.consts.ERROR_LEVEL_Q,
    "H": segno.consts.ERROR_LEVEL_H,
}
# base64url without '=' : what transit.js puts after its "PBT1" prefix
RIDE_CODE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
RIDE_CODE_BYTES = 202  # certificate 126 | issued at 4 | counter 4 | nonce 4 | signature 64


def _qr(calls: list[list[Any]]) -> list[Any]:
    return run_js("PaybaoQr", ["qr.js"], calls)


def _count_bits(mode: str, version: int) -> int:
    index = 0 if version <= 9 else 1 if version <= 26 else 2
    return {"numeric": (10, 12, 14), "byte": (8, 16, 16)}[mode][index]


def capacity(mode: str, version: int, level: str) -> int:
    """The most digits (numeric) or bytes (byte) a symbol holds, from segno's table of data bits
    per version and level (not from qr.js's own tables)."""
    free_bits = segno.consts.SYMBOL_CAPACITY[version][SEGNO_LEVEL[level]] - 4
    free_bits -= _count_bits(mode, version)
    if mode == "byte":
        return free_bits // 8
    digits = 3 * (free_bits // 10)
    return digits + {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 1, 7: 2, 8: 2, 9: 2}[free_bits % 10]


def _payload(mode: str, length: int, rng: random.Random) -> str:
    alphabet = "0123456789" if mode == "numeric" else RIDE_CODE_CHARS
    text = "".join(rng.choices(alphabet, k=length))
    # a byte-mode string must not be all digits, or qr.js rightly picks numeric mode
    return text if mode == "numeric" else "x" + text[1:]


@pytest.fixture
def iso_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    """segno 1.6 adds eight 0 bits when the bit stream already ends on a codeword boundary (every
    byte-mode segment with a whole terminator does), so its byte-mode symbols carry an extra 0x00
    codeword before the 0xEC/0x11 pads. Readers stop at the terminator and never see it, but it
    changes the error correction and so every module; ISO/IEC 18004 section 7.4.10 (and qr.js)
    pad only up to the boundary."""

    def write_padding_bits(buff: Any, version: int, length: int) -> None:
        buff.extend([0] * ((8 - length % 8) % 8))

    monkeypatch.setattr(segno.encoder, "write_padding_bits", write_padding_bits)


def _segno_rows(text: str, *, mode: str, version: int, level: str, mask: int) -> list[str]:
    reference = segno.make_qr(
        text, version=version, error=level.lower(), mask=mask, mode=mode, boost_error=False
    )
    return ["".join(str(module) for module in row) for row in reference.matrix]


def test_capacities_are_the_standards() -> None:
    # ISO/IEC 18004 table 7, a few corners: the capacity function the other tests trust.
    assert capacity("numeric", 1, "M") == 34
    assert capacity("byte", 1, "M") == 14
    assert capacity("byte", 12, "M") == 287
    assert capacity("numeric", 40, "L") == 7089
    assert capacity("byte", 40, "L") == 2953
    assert capacity("byte", 40, "H") == 1273


# --- module for module ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["numeric", "byte"])
@pytest.mark.usefixtures("iso_padding")
def test_every_version_and_level_equals_segno(mode: str) -> None:
    rng = random.Random(f"qr-{mode}")
    cases = []
    for version in VERSIONS:
        for index, level in enumerate(LEVELS):
            length = capacity(mode, version, level) - rng.randrange(3)  # the full end
            mask = (version + index) % 8  # every mask, spread over versions and levels
            cases.append((_payload(mode, length, rng), version, level, mask))
    results = _qr(
        [["encode", text, {"ecl": level, "mask": mask}] for text, _, level, mask in cases]
    )
    for (text, version, level, mask), result in zip(cases, results, strict=True):
        where = f"{version}-{level} mask {mask}"
        assert (result["version"], result["mode"], result["mask"]) == (version, mode, mask), where
        assert result["size"] == 4 * version + 17
        expected = _segno_rows(text, mode=mode, version=version, level=level, mask=mask)
        assert result["modules"] == expected, where


@pytest.mark.usefixtures("iso_padding")
def test_every_mask_equals_segno() -> None:
    cases = [("266123446508023547", 1), ("PBT1" + "a" * 270, 12), ("x" * 400, 15)]
    calls = [["encode", text, {"mask": mask}] for text, _ in cases for mask in range(8)]
    results = iter(_qr(calls))
    for text, version in cases:
        mode = "numeric" if text.isdigit() else "byte"
        for mask in range(8):
            expected = _segno_rows(text, mode=mode, version=version, level="M", mask=mask)
            assert next(results)["modules"] == expected, (version, mask)


# --- the smallest version, and what it draws decodes ------------------------------------------


def _decoded(svgs: list[Any]) -> list[list[str]]:
    return [qr.decode_image(rasterise_svg(svg)) for svg in svgs]


@pytest.mark.parametrize("mode", ["numeric", "byte"])
def test_boundary_lengths_choose_the_smallest_version_and_decode(mode: str) -> None:
    # For each version at level M: the shortest input that needs it, and the longest it holds.
    rng = random.Random(f"boundary-{mode}")
    cases: list[tuple[str, int]] = []
    for version in VERSIONS:
        shortest = 1 if version == 1 else capacity(mode, version - 1, "M") + 1
        longest = capacity(mode, version, "M")
        cases += [(_payload(mode, shortest, rng), version), (_payload(mode, longest, rng), version)]
    # (a named mask skips the penalty scoring, which the version choice does not depend on)
    calls: list[list[Any]] = [["encode", text, {"ecl": "M", "mask": 0}] for text, _ in cases]
    calls += [["svg", text, {"ecl": "M", "modulePx": 3}] for text, _ in cases]
    results = _qr(calls)
    encoded, svgs = results[: len(cases)], results[len(cases) :]
    assert [(r["version"], r["mode"]) for r in encoded] == [(v, mode) for _, v in cases]
    # segno's own choice agrees (a named mask here too: segno scores all eight in pure Python,
    # 0.3 s a symbol, and picks the version before it masks)
    assert [
        segno.make_qr(text, error="m", mode=mode, mask=0, boost_error=False).version
        for text, _ in cases
    ] == [version for _, version in cases]
    assert _decoded(svgs) == [[text] for text, _ in cases]


def test_the_other_levels_choose_their_smallest_version_too() -> None:
    rng = random.Random(5)
    cases = []
    for level in ("L", "Q", "H"):
        for version in (1, 2, 6, 7, 9, 10, 26, 27, 40):
            for mode in ("numeric", "byte"):
                cases.append((_payload(mode, capacity(mode, version, level), rng), level, version))
                if version < 40:
                    longer = _payload(mode, capacity(mode, version, level) + 1, rng)
                    cases.append((longer, level, version + 1))
    results = _qr([["encode", text, {"ecl": level, "mask": 0}] for text, level, _ in cases])
    assert [r["version"] for r in results] == [version for _, _, version in cases]


def test_payment_codes_decode() -> None:
    # 18 digits: version 1-M, numeric, as paycode.js always drew them.
    rng = random.Random(18)
    codes = [f"{rng.randint(25, 30)}{rng.randrange(10**16):016d}" for _ in range(30)]
    codes += ["250000000000000000", "309999999999999999"]
    encoded = _qr([["encode", code] for code in codes])
    assert {(r["version"], r["mode"]) for r in encoded} == {(1, "numeric")}
    assert _decoded(_qr([["svg", code, {"modulePx": 6}] for code in codes])) == [[c] for c in codes]


def test_ride_codes_decode() -> None:
    # "PBT1" + base64url(202 bytes): 274 characters, byte mode, version 12-M.
    rng = random.Random(202)
    codes = [
        "PBT1" + base64.urlsafe_b64encode(rng.randbytes(RIDE_CODE_BYTES)).decode().rstrip("=")
        for _ in range(12)
    ]
    assert {len(code) for code in codes} == {274}
    encoded = _qr([["encode", code] for code in codes])
    assert {(r["version"], r["mode"]) for r in encoded} == {(12, "byte")}
    assert _decoded(_qr([["svg", code, {"modulePx": 4}] for code in codes])) == [[c] for c in codes]


def test_utf8_text_and_raw_bytes_go_in_byte_mode() -> None:
    text = "乘车码 ride code"
    results = _qr([["encode", text], ["encode", js_bytes(text.encode())], ["svg", text]])
    assert results[0]["mode"] == results[1]["mode"] == "byte"
    assert results[0]["modules"] == results[1]["modules"]
    assert qr.decode_image(rasterise_svg(results[2])) == [text]


def test_the_mask_is_the_lowest_penalty_unless_named() -> None:
    # The automatic choice is one of the eight, and naming it gives the same symbol.
    text = "PBT1" + "Q" * 270
    chosen = _qr([["encode", text]])[0]
    assert _qr([["encode", text, {"mask": chosen["mask"]}]])[0]["modules"] == chosen["modules"]


# --- drawing -----------------------------------------------------------------------------------


def test_svg_size_quiet_zone_and_title() -> None:
    svg, bare = _qr(
        [
            ["svg", "266123446508023547", {"modulePx": 6, "title": 'a <b> & "c"'}],
            ["svg", "1", {"modulePx": 2, "quietModules": 0}],
        ]
    )
    assert 'width="174" height="174" viewBox="0 0 29 29"' in svg  # (21 + 2 * 4) * 6
    assert "<title>a &lt;b&gt; &amp; &quot;c&quot;</title>" in svg
    assert 'width="42" height="42" viewBox="0 0 21 21"' in bare and "<title>" not in bare
    assert re.fullmatch(
        r'<svg [^>]*><title>.*</title><rect [^>]*/><path d="[^"]*" fill="#000"/></svg>', svg
    )


# --- refusals ----------------------------------------------------------------------------------


def test_refusals_carry_stable_codes() -> None:
    longest_byte, longest_numeric = capacity("byte", 40, "M"), capacity("numeric", 40, "L")
    calls: list[list[Any]] = [
        ["encode", ""],
        ["encode", js_bytes(b"")],
        ["encode", "x" * (longest_byte + 1)],
        ["encode", "1" * (longest_numeric + 1), {"ecl": "L"}],
        ["encode", "1" * 35, {"versionMax": 1}],
        ["encode", "x" * 100_000],
        ["encode", "1", {"ecl": "X"}],
        ["encode", "1", {"mask": 8}],
        ["encode", "1", {"versionMax": 41}],
        ["encode", "1", {"versionMin": 0}],
        ["encode", 42],
        ["svg", "1", {"modulePx": 0}],
        ["svg", "1", {"quietModules": -1}],
    ]
    codes = [result.get("code") if "error" in result else result for result in _qr(calls)]
    assert codes == ["QR_EMPTY", "QR_EMPTY"] + ["QR_TOO_LONG"] * 4 + ["QR_BAD_OPTION"] * 7
    fits = _qr([["encode", "x" * longest_byte], ["encode", "1" * longest_numeric, {"ecl": "L"}]])
    assert [r["version"] for r in fits] == [40, 40]


def test_the_script_is_self_contained() -> None:
    source = (STATIC / "qr.js").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|export)\b", source, flags=re.MULTILINE)
    assert "http://" not in source.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in source


# --- the two pages that draw with it ------------------------------------------------------------


def test_the_ride_code_page_draws_its_code_with_qr_js() -> None:
    # transit.js loads under Node (its page wiring waits for a document); its qrSvg is qr.js's.
    rng = random.Random(274)
    code = "PBT1" + base64.urlsafe_b64encode(rng.randbytes(RIDE_CODE_BYTES)).decode().rstrip("=")
    [svg] = run_js("PaybaoTransit", ["qr.js", "transit.js"], [["qrSvg", code]])
    assert 'width="292" height="292"' in svg and "<title>ride code</title>" in svg  # 73 * 4
    assert qr.decode_image(rasterise_svg(svg)) == [code]
    [refused] = run_js("PaybaoTransit", ["transit.js"], [["qrSvg", code]])
    assert refused["error"] == "load /static/qr.js before transit.js"


@pytest.mark.parametrize(
    ("template", "page_script"),
    [("paycode/code.html", "paycode.js"), ("transit/wallet.html", "transit.js")],
)
def test_both_pages_load_qr_js_before_their_script(template: str, page_script: str) -> None:
    source = (STATIC.parent / "templates" / template).read_text(encoding="utf-8")
    scripts = re.findall(r'<script src="/static/([\w.]+)"', source)
    assert scripts.index("qr.js") < scripts.index(page_script)
