"""sealed at rest: tip text sealed under the data keys, keyed receipt hashes, follow-up
messages and photos

Revision ID: 0009_sealed
Revises: 0008_alerts
Create Date: 2026-12-06
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import context, op

revision = "0009_sealed"
down_revision = "0008_alerts"
branch_labels = None
depends_on = None

SEALED = ("typed_place", "when_text", "where_text", "direction", "descriptions", "details", "contact")
WIDENED = ("typed_place", "when_text", "where_text", "direction", "contact")
BATCH = 500


def upgrade() -> None:
    bind = op.get_bind()
    # A sealed value is longer than its text: the length check and the varchar sizes go (the
    # form still bounds every answer). On SQLite a table rebuild would drop tip's queue
    # triggers (and cascade-delete through the foreign keys), so the CHECK is removed from the
    # stored schema instead: SQLite documents this for removing CHECK constraints.
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE tip DROP CONSTRAINT IF EXISTS ck_tip_details_length")
        for name in WIDENED:
            op.execute(f"ALTER TABLE tip ALTER COLUMN {name} TYPE TEXT")
    else:
        _sqlite_drop_check("tip", "ck_tip_details_length")

    op.create_table(
        "tip_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "author IN ('traveler', 'staff')", name=op.f("ck_tip_message_author_known")
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_tip_message_tip_id_tip"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_tip_message_staff_user_id_staff_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_message")),
    )
    op.create_index("ix_tip_message_tip_id_at", "tip_message", ["tip_id", "at"])
    op.create_table(
        "tip_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_tip_photo_tip_id_tip"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["tip_message.id"],
            name=op.f("fk_tip_photo_message_id_tip_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_photo")),
    )
    op.create_index("ix_tip_photo_tip_id", "tip_photo", ["tip_id"])
    _seal_existing(bind)


def _sqlite_drop_check(table: str, name: str) -> None:
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    new = re.sub(rf",\s*CONSTRAINT {name} CHECK \(length\(details\) <= 4000\)", "", sql)
    if new == sql:
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (new, table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def _seal_existing(bind: sa.engine.Connection) -> None:
    """Seal every stored answer and key every receipt hash, in batches by id."""
    ring = context.config.attributes["keyring"]
    columns = ", ".join(SEALED)
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT id, receipt_hash, {columns} FROM tip WHERE id > :last ORDER BY id "
                "LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        for row in rows:
            values = {"id": row[0], "receipt_hash": ring.lookup_hash(row[1])}
            for name, value in zip(SEALED, row[2:], strict=True):
                if value is not None and not value.startswith("s1:"):
                    value = ring.seal_text(value, f"tip.{name}")
                values[name] = value
            sets = ", ".join(f"{n} = :{n}" for n in ("receipt_hash", *SEALED))
            bind.execute(sa.text(f"UPDATE tip SET {sets} WHERE id = :id"), values)
        last = rows[-1][0]


def downgrade() -> None:
    # Sealed text and keyed receipt hashes stay as they are: a downgrade keeps the data it
    # cannot restore without the keys, and the old code cannot read it. Restore a backup
    # taken before the upgrade to go back.
    op.drop_index("ix_tip_photo_tip_id", table_name="tip_photo")
    op.drop_table("tip_photo")
    op.drop_index("ix_tip_message_tip_id_at", table_name="tip_message")
    op.drop_table("tip_message")
