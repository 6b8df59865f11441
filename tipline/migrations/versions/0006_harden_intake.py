"""tips flagged as part of a burst at their poster

Revision ID: 0006_harden_intake
Revises: 0005_locations
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_harden_intake"
down_revision = "0005_locations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN with a constant default (no batch rebuild): rebuilding tip on SQLite
    # would drop the queue_entry triggers. Existing tips were never part of a burst.
    op.add_column(
        "tip", sa.Column("in_burst", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+), again so that the triggers survive.
    op.drop_column("tip", "in_burst")
