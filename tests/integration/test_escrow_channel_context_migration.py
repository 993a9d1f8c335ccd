"""0054 gives escrow_trades a channel_context: escrow orders made before it (a merchant's own, or
a marketplace purchase) read back as `{}`, so their notifications still name the merchant's app
and are signed for it; the downgrade drops the column again. Runs on the test's kind of database
(SQLite file or a throw-away PostgreSQL database)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from paybao.adapters.alipay.escrow_methods import trade_view
from paybao.adapters.alipay.on_behalf import calling_app_id
from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.escrow_store import SqlEscrowStore
from paybao.adapters.db.migrate import alembic_config, upgrade

BEFORE = "0053_app_auth"
AFTER = "0054_escrow_channel_context"
SHOP_APP = "2021000000006101"


def test_0054_reads_old_escrow_orders_as_the_merchants_own_and_downgrades(
    empty_url: str,
) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, BEFORE)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO escrow_trades (escrow_no, merchant_id, app_id, out_trade_no,"
                " payee_account_id, title, goods_type, total_fen, fee_rate_ppm, status,"
                " notify_url, created_at_us, pay_expires_at_us)"
                " VALUES ('E1', 7, :app, 'old-1', 70, '书', 'express', 10000, 6000,"
                " 'WAIT_BUYER_PAY', 'https://shop.example/notify', 1, 2)"
            ),
            {"app": SHOP_APP},
        )
    upgrade(engine, AFTER)
    with engine.connect() as connection:
        escrow = SqlEscrowStore(engine.dialect.name).escrow_by_no(connection, "E1")
    assert escrow is not None
    assert escrow.channel_context == "{}"
    view = trade_view(escrow)
    assert calling_app_id(view.channel_context, view.app_id) == SHOP_APP

    command.downgrade(alembic_config(engine.url.render_as_string(False)), BEFORE)
    with engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("escrow_trades")}
        kept = connection.execute(text("SELECT out_trade_no FROM escrow_trades")).scalar_one()
    engine.dispose()
    assert "channel_context" not in columns
    assert kept == "old-1"
