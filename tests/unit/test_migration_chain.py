"""The migrations end in one head: features written in parallel each revise the newest migration
they saw, and two of them must not both stay heads (an operator reading `paybao db status`
expects one revision, and the next migration must know what it follows)."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from paybao.adapters.db.migrate import alembic_config


def test_one_head_and_it_is_the_newest_number() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = scripts.get_heads()
    assert len(heads) == 1, heads
    newest = max(revision.revision for revision in scripts.walk_revisions())
    assert heads == [newest]
