"""A transit reader (gate or bus validator) simulated: offline verification and tap records.

The reader holds only what it downloaded (`alipay.commerce.transport.offlinepay.key.query`
and `.userblacklist.query`): the issuer public keys and the blacklist. `scan` accepts or refuses
a code with no network (domain/transit.py's checks, ECDSA here), refuses a code it has already
accepted, and records the tap for upload (`trade.settle`'s records).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from paybao.adapters.transit_crypto import verify
from paybao.domain.transit import (
    CLOCK_SKEW_S_DEFAULT,
    ReaderView,
    ReplayGuard,
    RideCode,
    Tap,
    TapKind,
    verify_code,
)

TAPS_KEPT_MAX = 10_000  # a reader that cannot upload stops at this many unsent taps


@dataclass
class Reader:
    app_id: str
    station: str
    kind: TapKind
    issuer_keys: dict[int, bytes] = field(default_factory=dict)
    blacklist: set[int] = field(default_factory=set)
    skew_s: int = CLOCK_SKEW_S_DEFAULT
    guard: ReplayGuard = field(default_factory=ReplayGuard)
    taps: list[Tap] = field(default_factory=list)

    def load_keys(self, keys: Iterable[Mapping[str, str]]) -> None:
        """The `keys` of key.query: [{key_id, public_key (base64)}]; replaces what it held."""
        self.issuer_keys = {int(key["key_id"]): base64.b64decode(key["public_key"]) for key in keys}

    def load_blacklist(self, user_ids: Iterable[str]) -> None:
        self.blacklist = {int(user_id) for user_id in user_ids}

    def scan(self, code_text: str, now_s: int) -> RideCode:
        """Accept (and record) or refuse a code, offline."""
        if len(self.taps) >= TAPS_KEPT_MAX:
            raise RuntimeError("the reader is full: upload its taps first")
        view = ReaderView(int(self.app_id), self.issuer_keys, self.blacklist, self.skew_s)
        code = verify_code(code_text, view, now_s, verify)
        self.guard.admit(code, now_s)
        self.taps.append(Tap(self.kind, self.station, now_s, code_text))
        return code

    def take_taps(self) -> list[Tap]:
        taps, self.taps = self.taps, []
        return taps


__all__ = ["Reader"]
