"""The escrow history in words: every line the escrow service writes is recognised, in both
languages; what people typed is shown as typed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import paybao.services.escrow as escrow_service
from paybao.services.escrow import Message
from paybao.web.escrow_notes import author_words, history, note_words

CASES = [
    ("paid into escrow", "买家已付款，款项由平台担保", "Paid into escrow"),
    (
        "paid into escrow; platform coupons paid 5.00 of it",
        "买家已付款，款项由平台担保（平台红包抵扣 ¥5.00）",
        "Paid into escrow (platform coupons paid ¥5.00)",
    ),
    ("closed unpaid", "未付款，交易关闭", "Closed unpaid"),
    ("shipped: 顺丰 SF42", "卖家已发货 顺丰 SF42", "Shipped 顺丰 SF42"),
    ("shipped:", "卖家已发货", "Shipped"),
    ("extended by 259200 s", "确认收货时间延长 3 天", "Time to confirm extended by 3 days"),
    ("extended by 5400 s", "确认收货时间延长 1.5 小时", "Time to confirm extended by 1.5 h"),
    (
        "refund requested: 20050 fen, 尺码不对",
        "买家申请退款 ¥200.50：尺码不对",
        "The buyer asked for a refund of ¥200.50: 尺码不对",
    ),
    (
        "refund request withdraw_refund",
        "买家撤回了退款申请",
        "The buyer withdrew the refund request",
    ),
    (
        "refund request lapse",
        "退款申请已失效，交易继续",
        "The refund request lapsed; the trade goes on",
    ),
    ("refund refused: 完好", "卖家拒绝退款：完好", "The seller refused the refund: 完好"),
    ("escalated to a dispute", "已申请平台介入", "The platform was asked to decide"),
    ("shipped: auto", "已自动发货", "Delivered automatically"),
    ("cancel", "买家取消交易，款项已退回", "Cancelled; the money went back"),
    ("confirmed", "买家已确认收货", "The buyer confirmed receipt"),
    (
        "auto-confirmed",
        "确认收货时间已到，系统自动确认收货",
        "Receipt confirmed automatically (time ran out)",
    ),
    ("refund agreed", "卖家同意退款", "The seller agreed to the refund"),
    ("ruling: 退一半", "平台裁决：退一半", "The platform ruled: 退一半"),
]


@pytest.mark.parametrize(("note", "zh", "en"), CASES)
def test_each_service_line_reads_in_words(note: str, zh: str, en: str) -> None:
    assert note_words(note, "zh") == zh
    assert note_words(note, "en") == en


def _literal_start(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def test_every_note_the_service_writes_has_a_case() -> None:
    # The literal start of each note services/escrow.py passes to `_write` / `_end_in`, or
    # builds as `note = ...`: a new one needs words here.
    tree = ast.parse(Path(escrow_service.__file__).read_text(encoding="utf-8"))
    starts: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("_write", "_end_in") and node.args:
                start = _literal_start(node.args[-1])
                if start:
                    starts.add(start)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "note" for t in node.targets
        ):
            start = _literal_start(node.value)
            if start:
                starts.add(start)
    assert len(starts) >= 12, starts
    notes = [note for note, _, _ in CASES]
    for start in starts:
        assert any(note.startswith(start) for note in notes), start


def test_other_lines_and_typed_text_are_shown_as_written() -> None:
    assert note_words("轻微划痕，退一半", "zh") == "轻微划痕，退一半"
    typed = Message(1, 1, "buyer", 7, "closed unpaid", None, False, 0)
    written = Message(2, 1, "system:seller", 8, "closed unpaid", None, False, 0)
    lines = history([typed, written], "zh")
    assert [line.text for line in lines] == ["closed unpaid", "未付款，交易关闭"]
    assert [line.author for line in lines] == ["买家", "卖家"]


def test_authors_read_as_roles() -> None:
    assert author_words("system:system", "zh") == "平台"
    assert author_words("operator", "en") == "Platform staff"
    assert author_words("merchant", "zh") == "商家"
