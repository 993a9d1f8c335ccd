"""Text with the NUL character (U+0000): PostgreSQL's text cannot hold it, so on PostgreSQL it
is refused as input (400 `text_has_nul`) by the database adapter, on a read as on a write,
instead of a 500 (schemathesis found the admin user search answering 500). On SQLite, which
stores it, the same search works."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.integration.api_admin_support import token_operator
from tests.integration.risk_support import PIN, funded_user

from paybao.bootstrap import Platform
from paybao.domain.errors import InvalidInput


def _postgres(platform: Platform) -> bool:
    return platform.db.dialect == "postgresql"


def test_a_search_with_nul_is_a_clean_refusal(platform: Platform, client: TestClient) -> None:
    viewer = token_operator(platform, "viewer")
    answer = client.get("/api/v1/admin/users", params={"q": "139\x00"}, headers=viewer.headers)
    if _postgres(platform):
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "text_has_nul"
    else:
        assert answer.status_code == 200, answer.text


def test_a_transfer_memo_with_nul_is_refused_before_anything_moves(platform: Platform) -> None:
    payer = funded_user(platform, "13900139301", "钱八", 100_00)
    payee = funded_user(platform, "13900139302", "孙九")
    wallet = platform.services["wallet"]
    before = wallet.balance(payer.user_id)
    with pytest.raises(InvalidInput):  # memos are checked as printable text, on both databases
        wallet.transfer(payer.user_id, payee.phone, 1_00, PIN, memo="午饭\x00")
    assert wallet.balance(payer.user_id) == before
    assert wallet.balance(payee.user_id)[0] == 0
