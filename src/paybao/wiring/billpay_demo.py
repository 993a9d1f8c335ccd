"""Demo billers of city services: utilities in Shanghai, Beijing and Hangzhou, and the three
mobile carriers. Idempotent by biller code; each gets a merchant of its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from paybao.services.billpay_billers import NewBiller

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

DEMO_BILLERS: tuple[NewBiller, ...] = (
    NewBiller("sh_water", "上海城投水务", "water", "shanghai"),
    NewBiller("sh_power", "国网上海市电力公司", "electricity", "shanghai"),
    NewBiller("sh_gas", "上海燃气", "gas", "shanghai"),
    NewBiller("sh_telecom", "上海电信宽带固话", "broadband", "shanghai"),
    NewBiller("bj_water", "北京市自来水集团", "water", "beijing"),
    NewBiller("bj_power", "国网北京市电力公司", "electricity", "beijing"),
    NewBiller("bj_gas", "北京燃气", "gas", "beijing"),
    NewBiller("hz_power", "国网杭州供电公司", "electricity", "hangzhou"),
    NewBiller("cmcc", "中国移动", "mobile"),
    NewBiller("cucc", "中国联通", "mobile"),
    NewBiller("ctcc", "中国电信", "mobile"),
)


def seed_demo_billers(platform: Platform) -> Iterator[str]:
    billers = platform.services["billers"]
    known = {biller.code for biller in billers.all()}
    created = 0
    for new in DEMO_BILLERS:
        if new.code not in known:
            billers.create(new, actor="demo")
            created += 1
    yield f"billers: {len(DEMO_BILLERS)} ({created} new); sandbox accounts: any 6-20 digits"
