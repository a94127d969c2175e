"""quota governance: fallback models, result cache, budget policy, fair shares

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("fallback_models", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column("use_cache", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("on_budget", sa.String(length=8), nullable=False, server_default="fail")
        )
        batch.add_column(sa.Column("cache_key", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("answered_model", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("cached_from", sa.String(length=32), nullable=True))
    op.create_index("ix_jobs_cache_key", "jobs", ["cache_key", "finished_at"], unique=False)
    op.create_table(
        "producer_shares",
        sa.Column("producer_key", sa.String(length=64), nullable=False),
        sa.Column("vtime", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("producer_key", name=op.f("pk_producer_shares")),
    )


def downgrade() -> None:
    op.drop_table("producer_shares")
    op.drop_index("ix_jobs_cache_key", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        for column in (
            "cached_from",
            "answered_model",
            "cache_key",
            "on_budget",
            "use_cache",
            "fallback_models",
        ):
            batch.drop_column(column)
