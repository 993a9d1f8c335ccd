"""Draw with segno/Pillow, read back with zxing-cpp: QR, Code128, posters, hostile uploads."""

from __future__ import annotations

import io
import random
import re
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter

from paybao.adapters import qr
from paybao.domain.errors import InvalidInput

url_paths = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
    min_size=1,
    max_size=60,
)
digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=40)
decode_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


# --- QR --------------------------------------------------------------------------------------


@decode_settings
@given(url_paths)
def test_qr_png_round_trips_order_urls(token: str) -> None:
    payload = f"https://pay.example.com/qr/{token}"
    assert qr.decode_image(qr.qr_png(payload)) == [payload]


@pytest.mark.parametrize(
    "payload",
    [
        "https://pay.example.com/c/m_0001",
        "http://127.0.0.1:8000/qr/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "paybao://transfer?to=u_42&name=%E5%BC%A0%E4%B8%89",
        "收钱码 张三",
    ],
)
@pytest.mark.parametrize("scale", [2, 8])
def test_qr_png_round_trips_at_small_and_large_scale(payload: str, scale: int) -> None:
    png = qr.qr_png(payload, scale=scale)
    assert png.startswith(b"\x89PNG")
    assert qr.decode_image(png) == [payload]


@pytest.mark.parametrize(
    ("payload", "modules"),
    [
        # Byte capacities: version 2 holds 26 bytes at M (32 at L), version 3 holds 42 at M
        # (32 at Q). So 26 bytes -> version 2 rules out Q/H, 27 bytes -> version 3 rules out L.
        ("https://pay.example.com/c/", 25),
        ("https://pay.example.com/c/1", 29),
    ],
)
def test_qr_uses_level_m_and_a_quiet_zone(payload: str, modules: int) -> None:
    image = Image.open(io.BytesIO(qr.qr_png(payload, scale=1)))
    side = modules + 2 * 4
    assert image.size == (side, side)
    grey = image.convert("L")
    border = [grey.getpixel((x, y)) for x in range(side) for y in range(4)]
    assert set(border) == {255}
    assert grey.getpixel((4, 4)) == 0  # the finder pattern starts right after the quiet zone
    # The format information must say M: segno would otherwise boost to Q when it fits.
    (found,) = zxingcpp.read_barcodes(image)
    assert found.ec_level == "M"


def test_qr_svg_is_a_standalone_svg_that_rasterises_to_the_same_code() -> None:
    payload = "https://pay.example.com/qr/svg-check"
    svg = qr.qr_svg(payload, scale=4)
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == root.get("height") == str(4 * (29 + 8))
    assert qr.decode_image(_rasterise_segno_svg_path(svg, scale=4)) == [payload]


def _rasterise_segno_svg_path(svg: str, *, scale: int) -> bytes:
    """Draw segno's one-path SVG (absolute M, relative h/m moves) with Pillow."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    path = next(el for el in root.iter() if el.tag.endswith("path"))
    size_px = int(root.get("width", "0"))
    image = Image.new("L", (size_px, size_px), 255)
    draw = ImageDraw.Draw(image)
    x = y = 0.0

    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path.get("d", "")):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            top = (y - 0.5) * scale
            draw.rectangle((x * scale, top, (x + float(a)) * scale - 1, top + scale - 1), fill=0)
            x += float(a)
    return _png(image)


@pytest.mark.parametrize("payload", ["", "x" * (qr.QR_PAYLOAD_CHARS_MAX + 1), "码" * 1_000])
def test_empty_or_oversized_qr_payloads_are_refused(payload: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        qr.qr_png(payload)
    assert caught.value.code == "invalid_qr_payload"


def test_the_longest_allowed_payload_round_trips() -> None:
    payload = "https://pay.example.com/qr/" + "a" * (qr.QR_PAYLOAD_CHARS_MAX - 27)
    assert qr.decode_image(qr.qr_png(payload, scale=3)) == [payload]


# --- Code128 ---------------------------------------------------------------------------------


@decode_settings
@given(digit_strings)
def test_code128_round_trips_digit_strings(digits: str) -> None:
    assert qr.decode_image(qr.code128_png(digits)) == [digits]


def test_code128_round_trips_18_digit_payment_codes() -> None:
    rng = random.Random(5)
    for _ in range(30):
        code = f"{rng.randint(25, 30)}{rng.randrange(10**16):016d}"
        assert qr.decode_image(qr.code128_png(code, module_px=2, bar_height_px=60)) == [code]


def test_every_code_set_c_symbol_decodes() -> None:
    # 00..99 in one barcode exercises every pair value's bar pattern at least once.
    digits = "".join(f"{value:02d}" for value in range(100))
    assert qr.decode_image(qr.code128_png(digits, module_px=2, show_digits=False)) == [digits]


def test_code128_symbols_are_eleven_modules() -> None:
    assert all(sum(map(int, widths)) == 11 for widths in qr.CODE128_WIDTHS[:106])
    assert sum(map(int, qr.CODE128_WIDTHS[qr.CODE128_STOP])) == 13
    assert len(set(qr.CODE128_WIDTHS)) == 107


def test_code128_layout_of_an_18_digit_code() -> None:
    modules = qr.code128_modules("266123446508023547")
    # start C + 9 pairs + checksum = 11 symbols of 11 modules, then the 13-module stop.
    assert len(modules) == 11 * 11 + 13
    assert modules.startswith("11010011100")  # start C = 211232
    assert modules.endswith("1100011101011")  # stop = 2331112


def test_code128_checksum() -> None:
    # Worked example: start C 105, pairs 12 34 56 -> (105 + 12*1 + 34*2 + 56*3) % 103 = 44.
    assert qr.code128_values("123456") == [105, 12, 34, 56, 44, 106]
    # An odd length ends with CODE B (100) then '7' in set B (value 23).
    assert qr.code128_values("1234567")[:-2] == [105, 12, 34, 56, 100, 23]


@pytest.mark.parametrize("text", ["", "12a4", "１２", "12 34"])
def test_code128_refuses_non_digits(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        qr.code128_png(text)
    assert caught.value.code == "invalid_barcode_payload"


# --- posters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "merchant_name",
    [
        "Blue Bottle Coffee",
        "A very long merchant name that has to shrink to fit the card",
        "蓝瓶咖啡",
    ],
)
def test_receive_money_poster_decodes_to_its_payload(merchant_name: str) -> None:
    payload = "https://pay.example.com/c/m_0042"
    png = qr.receive_money_poster_png(payload, merchant_name)
    image = Image.open(io.BytesIO(png))
    assert image.size == qr.POSTER_SIZE_PX
    assert qr.decode_image(png) == [payload]


def test_poster_falls_back_to_pillows_font_when_no_font_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(qr, "_CJK_FONT_PATHS", (("/nonexistent/cjk.ttc", 0),))
    monkeypatch.setattr(qr, "_LATIN_FONT_PATHS", (("/nonexistent/latin.ttf", 0),))
    qr._font.cache_clear()
    try:
        png = qr.receive_money_poster_png("https://pay.example.com/c/m_7", "Corner Shop 小卖部")
    finally:
        qr._font.cache_clear()
    assert qr.decode_image(png) == ["https://pay.example.com/c/m_7"]


@pytest.mark.skipif(not qr.cjk_font_available(), reason="no CJK font installed")
def test_chinese_names_render_as_distinct_glyphs() -> None:
    # With a CJK font two different names must draw differently; with tofu they would not.
    first = qr.receive_money_poster_png("https://x.example/c/1", "张三")
    second = qr.receive_money_poster_png("https://x.example/c/1", "李四")
    assert first != second


# --- screenshots and photos ------------------------------------------------------------------


def _screenshot_with(code_png: bytes, *, seed: int, scale: float) -> Image.Image:
    """Paste a code into a larger noisy page, scaled by a non-integer factor, slightly blurred."""
    rng = random.Random(seed)
    page = Image.effect_noise((1080, 1920), 40).convert("RGB")
    draw = ImageDraw.Draw(page)
    for _ in range(60):  # UI-like clutter: boxes of text-ish colour
        x, y = rng.randrange(1080), rng.randrange(1920)
        draw.rectangle(
            (x, y, x + rng.randrange(20, 200), y + rng.randrange(8, 30)),
            fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
        )
    code = Image.open(io.BytesIO(code_png)).convert("RGB")
    code = code.resize(
        (int(code.width * scale), int(code.height * scale)), Image.Resampling.BILINEAR
    )
    page.paste(code, (rng.randrange(0, 1080 - code.width), rng.randrange(300, 1920 - code.height)))
    return page.filter(ImageFilter.GaussianBlur(0.8))


@pytest.mark.parametrize(("seed", "scale"), [(1, 0.7), (2, 1.35), (3, 2.1)])
def test_qr_in_a_noisy_screenshot_decodes(seed: int, scale: float) -> None:
    payload = f"https://pay.example.com/qr/screenshot-{seed}"
    screenshot = _screenshot_with(qr.qr_png(payload, scale=6), seed=seed, scale=scale)
    assert qr.decode_image(_png(screenshot)) == [payload]
    assert qr.decode_image(_jpeg(screenshot, quality=70)) == [payload]


def test_barcode_in_a_noisy_screenshot_decodes() -> None:
    code = "281234567890123456"
    screenshot = _screenshot_with(qr.code128_png(code), seed=4, scale=1.5)
    assert qr.decode_image(_jpeg(screenshot, quality=80)) == [code]


def test_a_transparent_qr_screenshot_decodes() -> None:
    payload = "https://pay.example.com/qr/transparent"
    opaque = Image.open(io.BytesIO(qr.qr_png(payload))).convert("L")
    # Black modules on a fully transparent background, as some apps export them.
    transparent = Image.new("LA", opaque.size, (0, 0))
    transparent.putalpha(opaque.point(lambda value: 255 - value))
    assert qr.decode_image(_png(transparent)) == [payload]


def test_an_image_without_a_code_gives_nothing() -> None:
    assert qr.decode_image(_png(Image.effect_noise((400, 300), 60))) == []


def test_two_codes_in_one_image_are_both_found() -> None:
    page = Image.new("L", (900, 500), 255)
    page.paste(Image.open(io.BytesIO(qr.qr_png("https://a.example/1", scale=6))), (20, 20))
    page.paste(Image.open(io.BytesIO(qr.qr_png("https://b.example/2", scale=6))), (480, 20))
    assert sorted(qr.decode_image(_png(page))) == ["https://a.example/1", "https://b.example/2"]


# --- hostile uploads -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        bytes(random.Random(7).randbytes(4096)),
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,  # a PNG signature and nothing sensible after it
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",  # SVG is not accepted for upload
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    ],
)
def test_garbage_is_a_clean_error(data: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        qr.decode_image(data)
    assert caught.value.code == "image_unreadable"


def test_a_truncated_png_is_a_clean_error() -> None:
    png = qr.qr_png("https://pay.example.com/qr/truncated", scale=10)
    with pytest.raises(InvalidInput) as caught:
        qr.decode_image(png[: len(png) // 2])
    assert caught.value.code == "image_unreadable"


def test_more_than_8_mib_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInput) as caught:
        qr.decode_image(b"\x00" * (qr.IMAGE_BYTES_MAX + 1))
    assert caught.value.code == "image_too_large"


@pytest.mark.parametrize("size_px", [(8_000, 5_001), (20_000, 20_000)])
def test_too_many_pixels_is_refused_before_decoding(size_px: tuple[int, int]) -> None:
    # A small file that claims a huge canvas (a decompression bomb): refused from the header.
    bomb = Image.new("1", size_px, 1)
    data = io.BytesIO()
    bomb.save(data, format="PNG", optimize=True)
    assert len(data.getvalue()) < qr.IMAGE_BYTES_MAX
    with pytest.raises(InvalidInput) as caught:
        qr.decode_image(data.getvalue())
    assert caught.value.code == "image_too_large"


def test_a_big_photo_within_limits_is_shrunk_and_still_decodes() -> None:
    payload = "https://pay.example.com/qr/big-photo"
    page = Image.new("L", (6_000, 4_000), 230)
    page.paste(Image.open(io.BytesIO(qr.qr_png(payload, scale=30))), (2_000, 1_000))
    assert qr.decode_image(_jpeg(page, quality=85)) == [payload]
