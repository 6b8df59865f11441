"""server-side staff sessions, a hash-chained audit log that REPLACE and TRUNCATE cannot rewrite,
sign-in lockout moved to the shared limiter

Revision ID: 0007_harden_staff
Revises: 0006_harden_intake
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from tipline.accounts import chain
from tipline.db import UTCDateTime

revision = "0007_harden_staff"
down_revision = "0006_harden_intake"
branch_labels = None
depends_on = None

APPEND_ONLY = "audit_event is append-only"
FORWARD_ONLY = "audit_chain only moves forward"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_session_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_session_token_hash")),
    )
    op.create_index(op.f("ix_staff_session_user_id"), "staff_session", ["user_id"])

    # Lockout now lives in the shared limiter, alike for every email typed (real or not).
    for column in ("failed_logins", "locked_until"):
        if _sqlite():
            # A plain DROP COLUMN: a batch rebuild of staff_user would drop and re-create a
            # table other tables reference, which SQLite's foreign keys turn into cascades.
            op.execute(f"ALTER TABLE staff_user DROP COLUMN {column}")
        else:
            op.drop_column("staff_user", column)

    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
    )
    _lift_audit_triggers()
    op.add_column("audit_event", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_event", sa.Column("hash", sa.String(length=64), nullable=True))
    last_id, last_hash, count, key = _seal_existing_records()
    with op.batch_alter_table("audit_event", recreate="always" if _sqlite() else "auto") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
    op.execute(
        sa.text(
            "INSERT INTO audit_chain (id, last_id, last_hash, key_id, records) "
            "VALUES (1, :last_id, :last_hash, :key_id, :records)"
        ).bindparams(
            last_id=last_id,
            last_hash=last_hash,
            key_id=chain.key_id(key) if key and count else None,
            records=count,
        )
    )
    _guard_audit_tables()


def _seal_existing_records() -> tuple[int, str, int, str | None]:
    """Seal the records written before the chain existed, oldest first."""
    key: str | None = context.config.attributes.get("audit_key")
    events = sa.table(
        "audit_event",
        sa.column("id", sa.Integer()),
        sa.column("at", UTCDateTime()),
        sa.column("actor_id", sa.Integer()),
        sa.column("actor_email", sa.String()),
        sa.column("action", sa.String()),
        sa.column("target", sa.String()),
        sa.column("outcome", sa.String()),
        sa.column("detail", sa.JSON()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(events).order_by(events.c.id)).all()
    if rows and not key:
        raise RuntimeError("sealing the existing audit log needs the app's key: run `tipline db upgrade`")
    running, last_id = chain.GENESIS, 0
    for row in rows:
        assert key is not None
        sealed = chain.seal(key, running, row)  # type: ignore[arg-type]
        bind.execute(
            events.update()
            .where(events.c.id == row.id)
            .values(prev_hash=running, hash=sealed)
        )
        running, last_id = sealed, row.id
    return last_id, running, len(rows), key


def _lift_audit_triggers() -> None:
    if _sqlite():
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")
    else:
        op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")


def _guard_audit_tables() -> None:
    """UPDATE, DELETE, REPLACE (SQLite) and TRUNCATE (PostgreSQL) are refused by the database."""
    if _sqlite():
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
        # REPLACE / INSERT OR REPLACE deletes the clashing row without firing DELETE triggers
        # (unless recursive_triggers is on), so refuse the insert itself when the id is taken.
        op.execute(
            "CREATE TRIGGER audit_event_no_replace BEFORE INSERT ON audit_event "
            "WHEN EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain "
            f"BEGIN SELECT RAISE(ABORT, '{FORWARD_ONLY}'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_chain_no_replace BEFORE INSERT ON audit_chain "
            "WHEN EXISTS (SELECT 1 FROM audit_chain) "
            f"BEGIN SELECT RAISE(ABORT, '{FORWARD_ONLY}'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_chain_forward BEFORE UPDATE ON audit_chain "
            "WHEN NEW.last_id <= OLD.last_id OR NEW.records <= OLD.records "
            "OR (OLD.key_id IS NOT NULL AND NEW.key_id IS NOT OLD.key_id) "
            f"BEGIN SELECT RAISE(ABORT, '{FORWARD_ONLY}'); END"
        )
        return
    op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
    op.execute(
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    )
    op.execute(
        f"""
        CREATE FUNCTION audit_chain_forward() RETURNS trigger AS $$
        BEGIN
          IF TG_OP <> 'UPDATE' OR NEW.last_id <= OLD.last_id OR NEW.records <= OLD.records
             OR (OLD.key_id IS NOT NULL AND NEW.key_id IS DISTINCT FROM OLD.key_id) THEN
            RAISE EXCEPTION '{FORWARD_ONLY}';
          END IF;
          RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER audit_chain_forward BEFORE UPDATE OR DELETE ON audit_chain "
        "FOR EACH ROW EXECUTE FUNCTION audit_chain_forward()"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_forward()"
    )


def downgrade() -> None:
    if _sqlite():
        for name in (
            "audit_event_no_update",
            "audit_event_no_delete",
            "audit_event_no_replace",
            "audit_chain_no_delete",
            "audit_chain_no_replace",
            "audit_chain_forward",
        ):
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER audit_chain_forward ON audit_chain")
        op.execute("DROP TRIGGER audit_chain_no_truncate ON audit_chain")
        op.execute("DROP FUNCTION audit_chain_forward()")
    op.drop_table("audit_chain")
    if _sqlite():
        op.execute("ALTER TABLE audit_event DROP COLUMN prev_hash")
        op.execute("ALTER TABLE audit_event DROP COLUMN hash")
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    else:
        op.drop_column("audit_event", "hash")
        op.drop_column("audit_event", "prev_hash")
    op.add_column(
        "staff_user",
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("staff_user", sa.Column("locked_until", sa.DateTime(timezone=True)))
    op.drop_index(op.f("ix_staff_session_user_id"), table_name="staff_session")
    op.drop_table("staff_session")
