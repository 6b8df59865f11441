"""states by boundaries with corrections, agency time zones, every run, multi-number posters,
the traveler's last station, realtime delays

Revision ID: 0005_locations
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0005_locations"
down_revision = "0004"
branch_labels = None
depends_on = None


def _columns() -> dict[str, list[sa.Column[object]]]:
    """New columns by table (fresh objects each time: a Column belongs to one table)."""
    return {
        "station": [
            sa.Column("state_auto", sa.String(8), nullable=True),
            sa.Column("state_override", sa.String(8), nullable=True),
            sa.Column("state_note", sa.String(255), nullable=True),
            sa.Column("border_km", sa.Double(), nullable=True),
            sa.Column("border_with", sa.String(8), nullable=True),
        ],
        "trip": [sa.Column("timezone", sa.String(64), nullable=True)],
        "trip_stop": [
            sa.Column("stop_sequence", sa.Integer(), nullable=True),
            sa.Column("stop_id", sa.String(128), nullable=True),
        ],
        "tip": [
            sa.Column("train_runs", sa.JSON(), nullable=True),
            sa.Column("traveler_last_stop_code", sa.String(64), nullable=True),
            sa.Column("traveler_last_stop_name", sa.String(255), nullable=True),
        ],
    }


def upgrade() -> None:
    # Plain ADD COLUMN (never a batch rebuild): rebuilding tip on SQLite drops its triggers.
    for table, columns in _columns().items():
        for column in columns:
            op.add_column(table, column)
    # Until the next import the geocoder's answer stands as the automatic one.
    op.execute("UPDATE station SET state_auto = state")
    op.create_table(
        "placement_train",
        sa.Column("placement_id", sa.Integer(), nullable=False),
        sa.Column("train_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["placement_id"],
            ["placement.id"],
            name=op.f("fk_placement_train_placement_id_placement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["train_id"], ["train.id"], name=op.f("fk_placement_train_train_id_train")
        ),
        sa.PrimaryKeyConstraint("placement_id", "train_id", name=op.f("pk_placement_train")),
    )
    op.create_index(op.f("ix_placement_train_train_id"), "placement_train", ["train_id"])
    op.execute(
        "INSERT INTO placement_train (placement_id, train_id, position) "
        "SELECT id, train_id, 0 FROM placement WHERE train_id IS NOT NULL"
    )
    op.create_table(
        "realtime_feed",
        sa.Column("feed", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feed_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_realtime_feed")),
    )
    op.create_table(
        "realtime_trip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(64), nullable=False),
        sa.Column("trip_id", sa.String(128), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("stops", sa.JSON(), nullable=False),
        sa.Column("delay", sa.Integer(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_trip")),
        sa.UniqueConstraint(
            "feed", "trip_id", "start_date", name=op.f("uq_realtime_trip_feed_trip_id_start_date")
        ),
    )
    op.create_index(op.f("ix_realtime_trip_feed"), "realtime_trip", ["feed"])


def downgrade() -> None:
    op.drop_table("realtime_trip")
    op.drop_table("realtime_feed")
    op.drop_table("placement_train")
    for table, columns in _columns().items():
        for column in columns:
            # SQLite 3.35+ and PostgreSQL both drop a column in place (no table rebuild).
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
