"""The house rules of ARCHITECTURE.md, read from the code's own imports and calls.

- ``imagejobs/`` is the library; ``api/``, ``worker/`` and ``cli/`` are entrypoints on it. The
  library imports none of them, ``api`` and ``worker`` never import each other (nor the CLI).
- The pure core (``imagejobs/core``) imports no database, broker or network code.
- SQL statements (SQLAlchemy's ``select``/``update``/``insert``/``delete``/``text``) are built
  only under ``imagejobs/store/``.
- The settings are read (``get_settings()``) only by entrypoints.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("imagejobs", "api", "worker", "cli")
SQL_BUILDERS = {"select", "update", "insert", "delete", "text"}
IO_MODULES = ("sqlalchemy", "redis", "celery", "kombu", "httpx", "google.genai", "psycopg")
ENTRYPOINT_SETTINGS_READERS = {"api/app.py", "worker/__main__.py", "cli/invocation.py"}


def sources() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            yield relative, ast.parse(path.read_text(encoding="utf-8"), relative)


def imported_modules(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def top(module: str) -> str:
    return module.split(".", 1)[0]


FORBIDDEN = {
    "imagejobs": {"api", "worker", "cli"},
    "api": {"worker", "cli"},
    "worker": {"api", "cli"},
    "cli": set(),
}


@pytest.mark.parametrize("package", PACKAGES)
def test_entrypoints_stand_side_by_side_on_the_library(package: str) -> None:
    crossings = [
        f"{path} imports {module}"
        for path, tree in sources()
        if top(path) == package
        for module in imported_modules(tree)
        if top(module) in FORBIDDEN[package]
    ]
    assert crossings == []


def test_the_pure_core_does_no_io() -> None:
    found = [
        f"{path} imports {module}"
        for path, tree in sources()
        if path.startswith("imagejobs/core/")
        for module in imported_modules(tree)
        if module.startswith(IO_MODULES)
    ]
    assert found == []


def sql_builders_in(tree: ast.Module) -> set[str]:
    """Names of SQLAlchemy statement builders a module imports (``from sqlalchemy import …``)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
        for alias in node.names
        if alias.name in SQL_BUILDERS
    }


def test_sql_statements_live_in_the_store() -> None:
    found = [
        f"{path} builds SQL with {', '.join(sorted(names))}"
        for path, tree in sources()
        if not path.startswith(("imagejobs/store/", "imagejobs/emulator/"))
        for names in [sql_builders_in(tree)]
        if names
    ]
    assert found == []


def test_only_entrypoints_read_the_settings() -> None:
    readers = {
        path
        for path, tree in sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "get_settings"
    }
    assert readers <= ENTRYPOINT_SETTINGS_READERS | {"imagejobs/settings.py"}
