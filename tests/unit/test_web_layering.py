"""The operators' REST API shares nothing with the console's pages but through modules named
for what they hold (web/admin_views.py, domain/...): an `api_admin_*` module that imported a
`pages_*` module would tie the API's answers to a page's rendering helpers. import-linter can't
say "every pages_* module" without listing each, so this reads the imports itself."""

from __future__ import annotations

import ast
from pathlib import Path

import paybao.web

WEB = Path(paybao.web.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_admin_api_module_imports_a_page_module() -> None:
    api_modules = sorted(WEB.glob("api_admin*.py"))
    assert len(api_modules) >= 7
    offending = {
        path.name: sorted(
            m for m in _imported_modules(path) if ".pages_" in m or m.startswith("pages_")
        )
        for path in api_modules
    }
    assert {name: mods for name, mods in offending.items() if mods} == {}
