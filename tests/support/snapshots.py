"""Every row of some tables, to prove that a refused call wrote nothing: take `rows_of` before
and after and compare. Rows come ordered by the table's primary key (by every column where a
table has none), so two snapshots of the same data are equal on SQLite and PostgreSQL alike; a
changed, added or deleted row makes them differ, which a count of rows would miss."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, select

from paybao.adapters.db.tables import metadata
from paybao.bootstrap import Platform

Rows = dict[str, list[tuple[Any, ...]]]


def table_of(table: str | Table) -> Table:
    return table if isinstance(table, Table) else metadata.tables[table]


def every_table_but(*names: str) -> list[Table]:
    """Every table of the schema except the ones named (say, the audit log a request writes)."""
    unknown = set(names) - set(metadata.tables)
    assert not unknown, f"no such tables: {sorted(unknown)}"
    return [table for table in metadata.sorted_tables if table.name not in names]


def rows_of(platform: Platform, tables: Iterable[str | Table]) -> Rows:
    """{table name: every row as a tuple}, in a deterministic order."""
    found: Rows = {}
    with platform.engine.connect() as connection:
        for table in map(table_of, tables):
            order = list(table.primary_key.columns) or list(table.columns)
            query = select(table).order_by(*order)
            found[table.name] = [tuple(row) for row in connection.execute(query)]
    return found
