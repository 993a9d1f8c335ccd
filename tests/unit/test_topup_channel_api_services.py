"""What the wallet's REST API of the top-up channels asks of the services, on fakes: pages of
online top-ups and codes (newest first, `before`), open codes only, the bank's page only while
payable, the answers' shape, and a create marking its idempotency claim in its own
transaction."""

from __future__ import annotations

from typing import Any

from tests.unit.test_topup_channel_services import USER, World, world

from paybao.services.topup_channel_records import CASH_CODE_QR_PATH

__all__ = ["world"]


class MarkingIdempotency:
    """Records the references a service marks, and in which transaction."""

    def __init__(self) -> None:
        self.marks: list[tuple[Any, str]] = []

    def mark_done_in(self, tx: Any, reference: str, *, answer: Any = None) -> None:
        self.marks.append((tx, reference))


def test_online_top_ups_page_newest_first(world: World) -> None:
    made = [world.bank_pay.start(USER, "ICBC", n * 100)[0].id for n in (1, 2, 3)]
    first = world.bank_pay.topups(USER, 2)
    assert [t.id for t in first] == [made[2], made[1]]
    assert [t.id for t in world.bank_pay.topups(USER, 2, first[-1].id)] == [made[0]]
    assert world.bank_pay.topups(USER + 1, 2) == []


def test_the_banks_page_only_while_payable_and_the_answer_carries_it(world: World) -> None:
    topup, url = world.bank_pay.start(USER, "ICBC", 100_00)
    answer = world.bank_pay.answer(topup.id)
    assert answer["payment_url"] == url and answer["status"] == "pending"
    assert answer["amount"] == "100.00" and answer["id"] == topup.id
    world.clock.advance(30 * 60)  # its time is up: no longer payable, even before the job
    assert world.bank_pay.payable_url(world.bank_pay.topup(USER, topup.id)) is None
    assert world.bank_pay.answer(topup.id)["payment_url"] is None


def test_open_codes_only_and_pages_of_codes(world: World) -> None:
    codes = [world.cash.create(USER, 20_00) for _ in range(3)]
    world.cash.cancel(USER, codes[0].id)
    assert [c.id for c in world.cash.codes(USER, 10, open_only=True)] == [
        codes[2].id,
        codes[1].id,
    ]
    assert [c.id for c in world.cash.codes(USER, 10, before_id=codes[2].id)] == [
        codes[1].id,
        codes[0].id,
    ]
    world.clock.advance(30 * 60 + 1)  # expired, though the sweep has not marked them
    assert world.cash.codes(USER, 10, open_only=True) == []
    answer = world.cash.answer(codes[1].id)
    assert answer["status"] == "expired"
    assert answer["qr_url"] == CASH_CODE_QR_PATH.format(id=codes[1].id)


def test_a_create_marks_its_claim_in_its_own_transaction(world: World) -> None:
    marking = MarkingIdempotency()
    world.bank_pay.idempotency = marking  # type: ignore[assignment]
    world.cash.idempotency = marking  # type: ignore[assignment]
    topup, _ = world.bank_pay.start(USER, "ICBC", 100_00)
    code = world.cash.create(USER, 20_00)
    assert [reference for _, reference in marking.marks] == [
        f"bankpay:{topup.id}",
        f"cashcode:{code.id}",
    ]
    assert all(tx is not None for tx, _ in marking.marks)
    world.cash.cancel(USER, code.id)  # not a create: nothing marked
    assert len(marking.marks) == 2
