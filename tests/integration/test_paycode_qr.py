"""Every kind of code this feature draws, drawn with segno (and Code128) and read back with
zxing-cpp to the same payload: order QR, receive-money code and poster, payment code."""

from __future__ import annotations

import base64

from gateway_support import PAYMENT_PASSWORD, app_keys, make_buyer

from paybao.adapters.qr import code128_png, decode_image, qr_png, qr_svg
from paybao.bootstrap import Platform
from paybao.domain.paycode import encode_with_locator
from paybao.services.merchants import NewMerchant


def test_each_kind_round_trips(platform: Platform) -> None:
    merchants = platform.services["merchants"]
    merchant, _ = merchants.create(NewMerchant(name="小卖部"), app_keys().public_pem_spki)
    codes = platform.services["static_codes"]
    static_url = codes.static_url(codes.static_code_for("merchant", merchant.id))
    buyer = make_buyer(platform)
    personal_url = codes.static_url(codes.static_code_for("user", buyer))
    bound = platform.services["paycodes"].bind_device(buyer, "phone", PAYMENT_PASSWORD)
    paycode = encode_with_locator(
        bound.locator_digits, base64.b64decode(bound.seed_base64), 1_800_000_000
    )
    order_url = "http://testserver/qr/" + "A" * 22

    for payload in (static_url, personal_url, order_url, paycode):
        assert decode_image(qr_png(payload)) == [payload]
    assert decode_image(code128_png(paycode)) == [paycode]
    assert "<svg" in qr_svg(static_url)
