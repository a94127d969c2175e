"""The Alembic migrations build exactly the schema the models describe, on Postgres and SQLite."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from imagejobs.store.db import get_engine
from imagejobs.store.migrate import migrate
from imagejobs.store.models import Base


def schema_drift(url: str) -> list[object]:
    with get_engine(url).connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def test_postgres_schema_matches_models(database_url: str) -> None:
    assert schema_drift(database_url) == []


def test_sqlite_schema_matches_models_and_migrate_is_repeatable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate(url)
    migrate(url)  # a second run is a no-op
    assert schema_drift(url) == []
