"""Drawing and reading codes: QR (PNG/SVG), the receive-money poster, Code128 barcodes, decoding.

Drawing uses segno (QR) and Pillow (poster, barcode); reading uses zxing-cpp on a Pillow image.
Uploaded images are untrusted: `decode_image` bounds their size in bytes and in pixels before
any pixel is decoded, and reports problems as `InvalidInput` with a stable code.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import segno
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from paybao.domain.errors import InvalidInput

QR_ERROR_LEVEL = "m"
QR_SCALE_DEFAULT = 8
QR_BORDER_MODULES = 4  # the quiet zone the QR standard asks for
# Far more than any URL we print (dense symbols scan badly), and even at 4 UTF-8 bytes per
# character (2,048 bytes) within level M's 2,331-byte capacity, so drawing cannot overflow.
QR_PAYLOAD_CHARS_MAX = 512

IMAGE_BYTES_MAX = 8 * 1024 * 1024
IMAGE_PIXELS_MAX = 40_000_000
IMAGE_DECODE_SIDE_MAX_PX = 3_000  # bigger photos are shrunk first: zxing time grows with area
IMAGE_FORMATS_ACCEPTED = ("PNG", "JPEG", "WEBP")
DECODE_FORMATS = (
    zxingcpp.BarcodeFormat.QRCode
    | zxingcpp.BarcodeFormat.MicroQRCode
    | zxingcpp.BarcodeFormat.Code128
)

# --- QR --------------------------------------------------------------------------------------


def _make_qr(payload: str) -> segno.QRCode:
    if not 0 < len(payload) <= QR_PAYLOAD_CHARS_MAX:
        raise InvalidInput("QR payload is empty or too long", code="invalid_qr_payload")
    # boost_error=False keeps exactly level M, so the symbol size is predictable.
    return segno.make_qr(payload, error=QR_ERROR_LEVEL, boost_error=False)


def qr_png(
    payload: str, *, scale: int = QR_SCALE_DEFAULT, border_modules: int = QR_BORDER_MODULES
) -> bytes:
    """A QR code of `payload` as PNG bytes; each module is `scale` pixels."""
    assert 1 <= scale <= 64
    buffer = io.BytesIO()
    _make_qr(payload).save(buffer, kind="png", scale=scale, border=border_modules)
    return buffer.getvalue()


def qr_svg(
    payload: str, *, scale: int = QR_SCALE_DEFAULT, border_modules: int = QR_BORDER_MODULES
) -> str:
    """A QR code of `payload` as a standalone SVG document."""
    assert 1 <= scale <= 64
    buffer = io.BytesIO()
    _make_qr(payload).save(
        buffer,
        kind="svg",
        scale=scale,
        border=border_modules,
        xmldecl=False,
        svgclass=None,
        lineclass=None,
        title="paybao QR code",
    )
    return buffer.getvalue().decode("utf-8")


def qr_image(payload: str, *, scale: int = QR_SCALE_DEFAULT) -> Image.Image:
    """A QR code of `payload` as a 1-bit Pillow image (for composing posters)."""
    return Image.open(io.BytesIO(qr_png(payload, scale=scale))).convert("1")


# --- Code128 ---------------------------------------------------------------------------------

# Bar/space widths of Code128 symbols 0..106, in modules (ISO/IEC 15417 table 1). Each
# symbol is 3 bars and 3 spaces totalling 11 modules; the stop symbol adds a final bar (13).
# fmt: off
CODE128_WIDTHS = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312",
    "132212", "221213", "221312", "231212", "112232", "122132", "122231", "113222",
    "123122", "123221", "223211", "221132", "221231", "213212", "223112", "312131",
    "311222", "321122", "321221", "312212", "322112", "322211", "212123", "212321",
    "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121",
    "313121", "211331", "231131", "213113", "213311", "213131", "311123", "311321",
    "331121", "312113", "312311", "332111", "314111", "221411", "431111", "111224",
    "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112",
    "421211", "212141", "214121", "412121", "111143", "111341", "131141", "114113",
    "114311", "411113", "411311", "113141", "114131", "311141", "411131", "211412",
    "211214", "211232", "2331112",
)
# fmt: on
CODE128_START_C = 105
CODE128_CODE_B = 100  # switch to code set B (for an odd last digit)
CODE128_STOP = 106
CODE128_QUIET_MODULES = 10
assert len(CODE128_WIDTHS) == 107


def code128_values(digits: str) -> list[int]:
    """Symbol values for a digit string: Code set C pairs, an odd last digit in set B."""
    if not (digits and digits.isascii() and digits.isdigit()):
        raise InvalidInput("Code128-C encodes digits only", code="invalid_barcode_payload")
    values = [CODE128_START_C]
    pair_end = len(digits) - len(digits) % 2
    values += [int(digits[i : i + 2]) for i in range(0, pair_end, 2)]
    if pair_end < len(digits):
        values += [CODE128_CODE_B, ord(digits[-1]) - 32]
    checksum = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    return [*values, checksum, CODE128_STOP]


def code128_modules(digits: str) -> str:
    """The barcode as a string of modules, '1' for bar and '0' for space, no quiet zone."""
    modules: list[str] = []
    for value in code128_values(digits):
        for index, width in enumerate(CODE128_WIDTHS[value]):
            modules.append(("1" if index % 2 == 0 else "0") * int(width))
    return "".join(modules)


def code128_png(
    digits: str, *, module_px: int = 3, bar_height_px: int = 120, show_digits: bool = True
) -> bytes:
    """A Code128 barcode of `digits` as PNG bytes, with a quiet zone and optional digits."""
    assert 1 <= module_px <= 16 and 10 <= bar_height_px <= 1_000
    modules = code128_modules(digits)
    quiet_px = CODE128_QUIET_MODULES * module_px
    text_px = max(14, bar_height_px // 5) if show_digits else 0
    width_px = len(modules) * module_px + 2 * quiet_px
    image = Image.new("L", (width_px, bar_height_px + text_px + 2 * module_px * 4), 255)
    draw = ImageDraw.Draw(image)
    top_px = module_px * 4
    for index, module in enumerate(modules):
        if module == "1":
            left_px = quiet_px + index * module_px
            draw.rectangle(
                (left_px, top_px, left_px + module_px - 1, top_px + bar_height_px - 1), fill=0
            )
    if show_digits:
        font = _font(text_px, cjk=False)
        draw.text(
            (width_px // 2, top_px + bar_height_px + 2), digits, fill=0, font=font, anchor="mt"
        )
    return _png_bytes(image)


# --- the receive-money poster ----------------------------------------------------------------

POSTER_SIZE_PX = (800, 1120)
POSTER_BRAND_RGB = (22, 119, 255)

_CJK_FONT_PATHS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # index 2 = Simplified Chinese
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)
_LATIN_FONT_PATHS = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
    ("/usr/share/fonts/TTF/DejaVuSans-Bold.ttf", 0),
)


def cjk_font_available() -> bool:
    """Whether Chinese merchant names will render as glyphs (not boxes) on posters."""
    return _first_existing(_CJK_FONT_PATHS) is not None


def receive_money_poster_png(payload: str, merchant_name: str, *, caption: str = "paybao") -> bytes:
    """A printable poster: brand band with `caption`, the QR of `payload`, the merchant's name."""
    width_px, height_px = POSTER_SIZE_PX
    poster = Image.new("RGB", POSTER_SIZE_PX, POSTER_BRAND_RGB)
    draw = ImageDraw.Draw(poster)
    draw.text((width_px // 2, 90), caption, fill="white", font=_font(72, cjk=False), anchor="mm")
    card_box = (60, 180, width_px - 60, height_px - 60)
    draw.rounded_rectangle(card_box, radius=28, fill="white")
    qr = qr_image(payload, scale=1)
    qr_side_px = 560 - 560 % qr.width  # a whole number of pixels per module keeps it crisp
    qr = qr.resize((qr_side_px, qr_side_px), Image.Resampling.NEAREST)
    poster.paste(qr, ((width_px - qr_side_px) // 2, 230))
    name_font = _font(_name_size_px(draw, merchant_name), cjk=_needs_cjk(merchant_name))
    draw.text((width_px // 2, 880), merchant_name, fill=(34, 34, 34), font=name_font, anchor="mm")
    scan_hint = "扫码付款 · Scan to pay" if cjk_font_available() else "Scan to pay"
    hint_font = _font(30, cjk=cjk_font_available())
    draw.text((width_px // 2, 960), scan_hint, fill=(120, 120, 120), font=hint_font, anchor="mm")
    return _png_bytes(poster)


def _name_size_px(draw: ImageDraw.ImageDraw, merchant_name: str) -> int:
    # Long names shrink until they fit the card, down to a floor that stays legible in print.
    for size_px in range(56, 22, -4):
        font = _font(size_px, cjk=_needs_cjk(merchant_name))
        left, _, right, _ = draw.textbbox((0, 0), merchant_name, font=font)
        if right - left <= 600:
            return size_px
    return 24


def _needs_cjk(text: str) -> bool:
    return any(ord(char) >= 0x2E80 for char in text)


FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def _font(size_px: int, *, cjk: bool) -> FontType:
    candidates = (*_CJK_FONT_PATHS, *_LATIN_FONT_PATHS) if cjk else _LATIN_FONT_PATHS
    found = _first_existing(candidates)
    if found is None:
        return ImageFont.load_default(size=size_px)
    path, index = found
    return ImageFont.truetype(path, size_px, index=index)


def _first_existing(candidates: Iterable[tuple[str, int]]) -> tuple[str, int] | None:
    return next(((path, index) for path, index in candidates if Path(path).is_file()), None)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --- decoding --------------------------------------------------------------------------------


def decode_image(image_bytes: bytes) -> list[str]:
    """The texts of every QR / Code128 symbol found in a PNG, JPEG or WebP image.

    Raises `InvalidInput` with code `image_too_large` (over 8 MiB or 40 megapixels) or
    `image_unreadable` (not an image we accept). An image with no code gives [].
    """
    if len(image_bytes) > IMAGE_BYTES_MAX:
        raise InvalidInput("image is larger than 8 MiB", code="image_too_large")
    image = _open_bounded(image_bytes)
    try:
        grey = _shrunk(_to_grey(image))
    except (OSError, ValueError) as error:  # truncated or corrupt pixel data
        raise InvalidInput("image data is damaged", code="image_unreadable") from error
    found = zxingcpp.read_barcodes(grey, formats=DECODE_FORMATS)
    return _unique_texts(barcode.text for barcode in found)


def _open_bounded(image_bytes: bytes) -> Image.Image:
    """Open lazily (header only) and refuse oversized images before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(image_bytes), formats=IMAGE_FORMATS_ACCEPTED)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise InvalidInput("image has too many pixels", code="image_too_large") from error
    except (OSError, ValueError, SyntaxError) as error:  # Pillow's "cannot identify image"
        raise InvalidInput("not a PNG, JPEG or WebP image", code="image_unreadable") from error
    width_px, height_px = image.size
    if width_px * height_px > IMAGE_PIXELS_MAX:
        raise InvalidInput("image has too many pixels", code="image_too_large")
    return image


def _to_grey(image: Image.Image) -> Image.Image:
    # Transparent screenshots: flatten onto white, or transparent pixels turn black.
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, "white")
        flat.alpha_composite(rgba)
        return flat.convert("L")
    return image.convert("L")


def _shrunk(image: Image.Image) -> Image.Image:
    if max(image.size) <= IMAGE_DECODE_SIDE_MAX_PX:
        return image
    shrunk = image.copy()
    shrunk.thumbnail((IMAGE_DECODE_SIDE_MAX_PX, IMAGE_DECODE_SIDE_MAX_PX), Image.Resampling.LANCZOS)
    return shrunk


def _unique_texts(texts: Iterable[str]) -> list[str]:
    # The same symbol can be reported twice (e.g. at two scales); keep the first, in order.
    return list(dict.fromkeys(text for text in texts if text))
