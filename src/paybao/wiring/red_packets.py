"""Red packets (红包) wiring: the service on the wallet's operations, the expiry sweep, the
reconcile checks and the idempotency renderers of its REST answers.

Needs the wallet installed first. Service: "red_packets".
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from paybao.adapters.db.red_packet_checks import RED_PACKET_CHECKS
from paybao.adapters.db.red_packet_store import SqlRedPacketStore
from paybao.domain.red_packets import RedPacketPolicy
from paybao.services.red_packets import RedPackets

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    settings = platform.settings
    services = platform.services
    wallet = services["wallet"]
    red_packets = RedPackets(
        db=platform.db,
        store=SqlRedPacketStore(),
        users=services["users"],
        ledger=platform.ledger,
        clock=platform.clock,
        operations=wallet.operations,
        base_url=settings.base_url.rstrip("/"),
        policy=RedPacketPolicy(
            share_max_fen=settings.red_packet_share_max_fen,
            count_max=settings.red_packet_count_max,
            greeting_chars_max=settings.red_packet_greeting_chars_max,
            greeting_default=settings.red_packet_greeting_default,
            expiry_s=settings.red_packet_expiry_s,
        ),
    )
    red_packets.answer_of = _answer  # the money transaction stores the REST answer
    platform.sweeps.append(red_packets.expire_due)
    platform.reconcile.checks.extend(RED_PACKET_CHECKS)
    # After a crash between commit and answer, a retry gets the answer in the REST shape.
    renderers = services["idempotency"].renderers
    renderers["red_packet"] = lambda ref: _answer(red_packets.sent_packet(_row_id(ref)))
    renderers["red_packet_claim"] = lambda ref: _answer(red_packets.claim_result(_row_id(ref)))
    services["red_packets"] = red_packets


def _row_id(reference: str) -> int:
    return int(reference.split(":", 1)[1])


def _answer(result: object) -> tuple[int, str]:
    assert dataclasses.is_dataclass(result) and not isinstance(result, type)
    return 200, json.dumps(dataclasses.asdict(result), ensure_ascii=False)
