"""drop tip indexes that the queue's composite indexes already cover

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Each is the leading column of a composite index on tip; dropping them halves the write cost a
# traveler's submission pays per index. Plain DROP INDEX (not a batch rebuild): rebuilding the
# table on SQLite would drop the queue_entry triggers.
REDUNDANT = {
    "ix_tip_placement_id": "placement_id",
    "ix_tip_station_code": "station_code",
    "ix_tip_train_number": "train_number",
    "ix_tip_priority": "priority",
    "ix_tip_status": "status",
}


def upgrade() -> None:
    for name in REDUNDANT:
        op.drop_index(name, table_name="tip")


def downgrade() -> None:
    for name, column in REDUNDANT.items():
        op.create_index(name, "tip", [column])
