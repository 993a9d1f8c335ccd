"""Demo transit data: a metro operator, "杭州地铁 Hangzhou Metro", with its own app (its private
key in the data folder, for trying the alipay.commerce.transport.offlinepay.* methods with an
SDK) and a zone fare table. The demo user opens the ride code at /wallet/transit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from paybao.domain.transit import FareRule, OperatorKind
from paybao.services.transit_records import Operator
from paybao.wiring.demo_apps import demo_app

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

DEMO_METRO_APP_ID = "2021000000000320"
DEMO_METRO_NAME = "杭州地铁 Hangzhou Metro"
KEY_STEM = "demo_metro_app"
# Stations of line 1 by fare zone (the ids a gate puts in its records), and the fare by how
# many zones apart the two stations are: 2.00 within a zone, up to 5.00 three zones apart.
DEMO_ZONES = {
    "XIANGHU": 1,  # 湘湖
    "BINHELU": 1,  # 滨和路
    "JIANGLINGLU": 2,  # 江陵路
    "CHENGZHAN": 2,  # 城站
    "DINGANLU": 2,  # 定安路
    "LONGXIANGQIAO": 2,  # 龙翔桥
    "WULINGUANGCHANG": 3,  # 武林广场
    "DATIEGUAN": 3,  # 打铁关
    "HUOCHEDONGZHAN": 3,  # 火车东站
    "JIUBAO": 4,  # 九堡
    "WENZELU": 4,  # 文泽路
    "XIASHAJIANGBIN": 4,  # 下沙江滨
}
DEMO_ZONE_FARES_FEN = (2_00, 3_00, 4_00, 5_00)


def seed_demo_metro(platform: Platform) -> Iterator[str]:
    made = demo_app(platform, DEMO_METRO_NAME, DEMO_METRO_APP_ID, KEY_STEM)
    merchant, app, private_path = made.merchant, made.app, made.private_key_path
    fare = FareRule(OperatorKind.METRO, zones=DEMO_ZONES, zone_fares_fen=DEMO_ZONE_FARES_FEN)
    platform.services["transit"].save_operator(
        Operator(app.app_id, merchant.id, DEMO_METRO_NAME, fare)
    )
    yield f"demo metro {merchant.id}: app_id {DEMO_METRO_APP_ID}, {len(DEMO_ZONES)} stations"
    yield f"  app private key (PKCS#1): {private_path}"
