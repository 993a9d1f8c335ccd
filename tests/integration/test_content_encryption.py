"""AES content encryption end to end: apps' keys (made, shown, reset, sealed at rest, audited)
and the gateway opening encrypted requests and encrypting its answers, through the ASGI app."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.integration.gateway_support import APP_ID, app_keys, make_shop, now_text, parse_verified
from tests.integration.merchant_portal_support import portal_shop, post_form, sign_in
from typer.testing import CliRunner

from paybao.adapters.alipay import content_crypto, wire
from paybao.adapters.alipay.signing import sign_request_params, verify_content
from paybao.adapters.app_aes_vault import AppAesKeyVault
from paybao.bootstrap import Platform
from paybao.cli import app as cli_app
from paybao.domain.errors import InvalidInput, NotFound
from paybao.services.merchants import NewMerchant

TRICKY = 'a{b}} c{{ & = " 测试商品 😀 \\ end'
KEYLESS_APP_ID = "2021000000000778"


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform)


def _encrypted_params(
    method: str,
    biz: dict[str, Any],
    key: bytes,
    *,
    app_id: str = APP_ID,
    charset: str = "utf-8",
    encrypt_type: str = "AES",
) -> dict[str, str]:
    """What the official SDK sends: biz_content encrypted first, then everything signed."""
    plain = json.dumps(biz, ensure_ascii=False, separators=(",", ":"))
    params = {
        "app_id": app_id,
        "method": method,
        "charset": charset,
        "format": "json",
        "sign_type": "RSA2",
        "timestamp": now_text(),
        "version": "1.0",
        "encrypt_type": encrypt_type,
        "biz_content": content_crypto.encrypt(plain.encode(charset), key),
    }
    private = app_keys().private_pem_pkcs1
    params["sign"] = sign_request_params(params, private, "RSA2", charset)
    return params


def _open_answer(
    body: bytes, platform: Platform, method: str, key: bytes, charset: str = "utf-8"
) -> dict[str, Any]:
    """The official SDK's reading: the signature covers the quoted ciphertext; decrypt it."""
    text_body = body.decode(charset)
    head = f'{{"{wire.response_key(method)}":"'
    assert text_body.startswith(head), text_body[:120]
    end = text_body.index('","sign":"')
    quoted = text_body[len(head) - 1 : end + 1]
    signature = text_body[end + len('","sign":"') : -2]
    public_pem = platform.services["platform_key"].public_pem
    assert verify_content(quoted.encode(charset), signature, public_pem, "RSA2")
    return dict(json.loads(content_crypto.decrypt(quoted[1:-1], key).decode(charset)))


def _post(client: TestClient, params: dict[str, str], charset: str = "utf-8") -> bytes:
    body = wire.encode_form(params, charset)
    content_type = f"application/x-www-form-urlencoded;charset={charset}"
    response = client.post("/gateway.do", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200
    return response.content


# Keys --------------------------------------------------------------------------------------


def test_an_app_gets_one_key_shown_again_until_reset(platform: Platform, shop: Any) -> None:
    keys = platform.services["app_aes_keys"]
    assert keys.show(APP_ID) is None
    assert keys.key_of(APP_ID) is None

    first = keys.set(APP_ID, actor="merchant:1")
    again = keys.set(APP_ID)
    reset = keys.set(APP_ID, reset=True, actor="merchant:1")
    wide = keys.set(APP_ID, reset=True, size_bytes=32)

    assert len(first) == 24 and len(base64.b64decode(first)) == 16  # as Alipay's console
    assert again == first
    assert reset != first and len(base64.b64decode(reset)) == 16
    assert len(base64.b64decode(wide)) == 32
    assert keys.show(APP_ID) == wide
    assert keys.key_of(APP_ID) == base64.b64decode(wide)
    with platform.db.read() as tx:
        actions = tx.execute(
            text("SELECT action, actor FROM audit_log WHERE subject = :s ORDER BY id"),
            {"s": f"app:{APP_ID}"},
        ).all()
    assert [tuple(row) for row in actions] == [
        ("app_aes_key.set", "merchant:1"),
        ("app_aes_key.reset", "merchant:1"),
        ("app_aes_key.reset", None),
    ]


def test_keys_are_sealed_at_rest_and_bound_to_their_app(platform: Platform, shop: Any) -> None:
    keys = platform.services["app_aes_keys"]
    key_text = keys.set(APP_ID)
    with platform.db.read() as tx:
        sealed = tx.execute(
            text("SELECT sealed_key FROM app_aes_keys WHERE app_id = :a"), {"a": APP_ID}
        ).scalar_one()

    assert key_text not in sealed
    assert base64.b64decode(key_text) not in base64.b64decode(sealed)
    vault = AppAesKeyVault.in_folder(platform.settings.data_dir)
    assert vault.open(sealed, APP_ID) == base64.b64decode(key_text)
    with pytest.raises(RuntimeError):
        vault.open(sealed, KEYLESS_APP_ID)  # copied onto another app's row


def test_another_installations_vault_does_not_open_a_key(tmp_path: Path) -> None:
    sealed = AppAesKeyVault.in_folder(tmp_path / "a").seal(bytes(16), APP_ID)
    with pytest.raises(RuntimeError):
        AppAesKeyVault.in_folder(tmp_path / "b").open(sealed, APP_ID)


def test_unknown_apps_and_odd_sizes_are_refused(platform: Platform, shop: Any) -> None:
    keys = platform.services["app_aes_keys"]
    with pytest.raises(NotFound):
        keys.set("2021999999999999")
    with pytest.raises(InvalidInput):
        keys.set(APP_ID, size_bytes=24)
    assert keys.show(APP_ID) is None


# The gateway ------------------------------------------------------------------------------


def test_encrypted_calls_are_answered_encrypted(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    key = base64.b64decode(platform.services["app_aes_keys"].set(APP_ID))
    biz = {"out_trade_no": "aes-1", "total_amount": "8.88", "subject": TRICKY}

    created = _open_answer(
        _post(client, _encrypted_params("alipay.trade.precreate", biz, key)),
        platform,
        "alipay.trade.precreate",
        key,
    )
    missing = _open_answer(
        _post(client, _encrypted_params("alipay.trade.query", {"out_trade_no": "nope"}, key)),
        platform,
        "alipay.trade.query",
        key,
    )
    bad_amount = _open_answer(
        _post(client, _encrypted_params("alipay.trade.precreate", {**biz, "total_amount": 0}, key)),
        platform,
        "alipay.trade.precreate",
        key,
    )

    assert (created["code"], created["out_trade_no"]) == ("10000", "aes-1")
    assert created["qr_code"].startswith("http://testserver/qr/")
    assert (missing["code"], missing["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    assert missing["buyer_pay_amount"] == "0.00"
    assert (bad_amount["code"], bad_amount["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")


def test_the_same_app_still_calls_in_plain(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    key = base64.b64decode(platform.services["app_aes_keys"].set(APP_ID))
    biz = {"out_trade_no": "aes-2", "total_amount": "1.00", "subject": TRICKY}
    created = _open_answer(
        _post(client, _encrypted_params("alipay.trade.precreate", biz, key)),
        platform,
        "alipay.trade.precreate",
        key,
    )
    assert client.get(created["qr_code"].removeprefix("http://testserver")).status_code == 200

    params = _encrypted_params("alipay.trade.query", {"out_trade_no": "aes-2"}, key)
    plain_params = {k: v for k, v in params.items() if k not in ("encrypt_type", "sign")}
    plain_params["biz_content"] = json.dumps({"out_trade_no": "aes-2"})
    plain_params["sign"] = sign_request_params(plain_params, app_keys().private_pem_pkcs1)
    answer = parse_verified(_post(client, plain_params), platform, "alipay.trade.query")

    assert (answer["code"], answer["trade_status"]) == ("10000", "WAIT_BUYER_PAY")
    assert answer["subject"] == TRICKY


def test_gbk_requests_open_and_answer_in_gbk(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    key = base64.b64decode(platform.services["app_aes_keys"].set(APP_ID))
    subject = '测试商品 & = " {x}'
    biz = {"out_trade_no": "aes-gbk", "total_amount": "2.00", "subject": subject}
    params = _encrypted_params("alipay.trade.precreate", biz, key, charset="gbk")
    created = _open_answer(
        _post(client, params, "gbk"), platform, "alipay.trade.precreate", key, "gbk"
    )
    assert client.get(created["qr_code"].removeprefix("http://testserver")).status_code == 200

    query = _encrypted_params("alipay.trade.query", {"out_trade_no": "aes-gbk"}, key, charset="gbk")
    answer = _open_answer(_post(client, query, "gbk"), platform, "alipay.trade.query", key, "gbk")

    assert (answer["code"], answer["subject"]) == ("10000", subject)


def _plain_refusal(client: TestClient, platform: Platform, params: dict[str, str]) -> Any:
    body = _post(client, params)
    assert b'_response":{' in body  # a plain object, not an encrypted string
    return parse_verified(body, platform, params["method"])


def test_refusals_before_the_content_opens_are_plain_alipay_errors(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    merchants = platform.services["merchants"]
    merchants.create(NewMerchant(name="无密钥", app_id=KEYLESS_APP_ID), app_keys().public_pem_spki)
    key = base64.b64decode(platform.services["app_aes_keys"].set(APP_ID))
    biz = {"out_trade_no": "aes-3", "total_amount": "1.00", "subject": "s"}
    method = "alipay.trade.precreate"
    before = _count_trades(platform)

    keyless = _plain_refusal(
        client, platform, _encrypted_params(method, biz, key, app_id=KEYLESS_APP_ID)
    )
    sm4 = _encrypted_params(method, biz, key, encrypt_type="SM4")
    not_aes = _plain_refusal(client, platform, sm4)
    wrong_key = _plain_refusal(
        client, platform, _encrypted_params(method, biz, content_crypto.new_key())
    )
    garbage = _encrypted_params(method, biz, key)
    garbage["biz_content"] = "bm90IGFuIEFFUyBibG9jaw=="
    garbage["sign"] = sign_request_params(
        {k: v for k, v in garbage.items() if k != "sign"}, app_keys().private_pem_pkcs1
    )
    undecryptable = _plain_refusal(client, platform, garbage)
    # The signature covers the ciphertext: swapping in another one breaks it.
    swapped = _encrypted_params(method, biz, key)
    swapped["biz_content"] = _encrypted_params(method, {**biz, "total_amount": "99"}, key)[
        "biz_content"
    ]
    unsigned = _plain_refusal(client, platform, swapped)

    assert (keyless["code"], keyless["sub_code"]) == (
        "40002",
        "isv.decryption-error-not-valid-encrypt-key",
    )
    assert (not_aes["code"], not_aes["sub_code"]) == (
        "40002",
        "isv.decryption-error-not-valid-encrypt-type",
    )
    for refusal in (wrong_key, undecryptable):
        assert (refusal["code"], refusal["msg"]) == ("40003", "Insufficient Conditions")
        assert refusal["sub_code"] == "isv.decryption-error-unknown"
    assert (unsigned["code"], unsigned["sub_code"]) == ("40002", "isv.invalid-signature")
    assert _count_trades(platform) == before


def _count_trades(platform: Platform) -> int:
    with platform.db.read() as tx:
        return int(tx.execute(text("SELECT COUNT(*) FROM trades")).scalar_one())


# The portal and the CLI -----------------------------------------------------------------------


def test_the_merchant_sets_shows_and_resets_the_key_in_the_portal(
    platform: Platform, client: TestClient
) -> None:
    shop = portal_shop(platform)
    assert sign_in(client, shop.merchant.id).status_code == 303
    keys_page = client.get("/merchant/keys").text
    page_path = f"/merchant/keys/{APP_ID}/aes"
    assert f'href="{page_path}"' in keys_page
    assert 'id="no-aes-key"' in client.get(page_path).text

    made = post_form(client, page_path, page_path, {})
    key = platform.services["app_aes_keys"].show(APP_ID)
    shown = client.get(made.headers["location"]).text
    unconfirmed = post_form(client, page_path, page_path, {"reset": "1"})
    reset = post_form(client, page_path, page_path, {"reset": "1", "confirm": "1"})

    assert made.status_code == 303 and key is not None
    assert f'<code class="aes-key-text">{key}</code>' in shown
    assert key not in keys_page and key not in client.get("/merchant/keys").text
    assert unconfirmed.status_code == 400
    assert 'data-code="aes_reset_not_confirmed"' in unconfirmed.text
    assert reset.status_code == 303
    new_key = platform.services["app_aes_keys"].show(APP_ID)
    assert new_key not in (None, key)
    assert new_key in client.get(reset.headers["location"]).text
    with platform.db.read() as tx:
        actors = tx.execute(
            text("SELECT action, actor FROM audit_log WHERE action LIKE 'app_aes_key.%'")
        ).all()
    merchant = f"merchant:{shop.merchant.id}"
    assert sorted(tuple(row) for row in actors) == [
        ("app_aes_key.reset", merchant),
        ("app_aes_key.set", merchant),
    ]


def test_a_merchant_sees_and_sets_no_key_of_another_merchants_app(
    platform: Platform, client: TestClient
) -> None:
    shop = portal_shop(platform)
    make_shop(platform, app_id=KEYLESS_APP_ID)
    platform.services["app_aes_keys"].set(KEYLESS_APP_ID)
    sign_in(client, shop.merchant.id)
    path = f"/merchant/keys/{KEYLESS_APP_ID}/aes"

    page = client.get(path)
    answer = post_form(client, "/merchant/keys", path, {"reset": "1", "confirm": "1"})

    assert page.status_code == 404
    assert platform.services["app_aes_keys"].show(KEYLESS_APP_ID) not in page.text
    assert answer.status_code == 404
    with platform.db.read() as tx:
        resets = tx.execute(
            text("SELECT COUNT(*) FROM audit_log WHERE action = 'app_aes_key.reset'")
        ).scalar_one()
    assert resets == 0


def test_the_cli_prints_the_key_and_resets_it(
    platform: Platform, shop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = platform.settings
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    runner = CliRunner()

    first = runner.invoke(cli_app, ["merchant", "aes-key", "--app-id", APP_ID])
    again = runner.invoke(cli_app, ["merchant", "aes-key", "--app-id", APP_ID, "--json"])
    reset = runner.invoke(
        cli_app, ["merchant", "aes-key", "--app-id", APP_ID, "--reset", "--bits", "256"]
    )
    odd = runner.invoke(cli_app, ["merchant", "aes-key", "--app-id", APP_ID, "--bits", "192"])
    unknown = runner.invoke(cli_app, ["merchant", "aes-key", "--app-id", "2021999999999999"])

    assert first.exit_code == 0, first.output
    key = first.stdout.strip()
    assert len(base64.b64decode(key)) == 16
    assert json.loads(again.stdout) == {"app_id": APP_ID, "encrypt_type": "AES", "encrypt_key": key}
    assert reset.exit_code == 0 and len(base64.b64decode(reset.stdout.strip())) == 32
    assert platform.services["app_aes_keys"].show(APP_ID) == reset.stdout.strip()
    assert odd.exit_code == 1 and "invalid_aes_key_size" in odd.output
    assert unknown.exit_code == 1 and "app_not_found" in unknown.output
