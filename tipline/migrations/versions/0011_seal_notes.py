"""sealed at rest: what staff type on a tip's timeline (notes, reasons, referral partner and
reference), like the traveler's words

Revision ID: 0011_seal_notes
Revises: 0010_desk
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0011_seal_notes"
down_revision = "0010_desk"
branch_labels = None
depends_on = None

SEALED = ("reason", "note", "referred_to", "referral_ref")
WIDENED = ("reason", "referred_to", "referral_ref")  # note is TEXT already
BATCH = 500


def upgrade() -> None:
    bind = op.get_bind()
    # A sealed value is longer than its text: the varchar sizes go (the forms still bound
    # every field). SQLite does not enforce a VARCHAR length, so its table stays as it is.
    if bind.dialect.name == "postgresql":
        for name in WIDENED:
            op.execute(f"ALTER TABLE tip_event ALTER COLUMN {name} TYPE TEXT")
    _seal_existing(bind)


def _seal_existing(bind: sa.engine.Connection) -> None:
    """Seal every stored note, reason, partner and reference, in batches by id (a value already
    sealed under a key of the keyring is left alone, so a re-run does no harm)."""
    ring = context.config.attributes["keyring"]
    columns = ", ".join(SEALED)
    sets = ", ".join(f"{n} = :{n}" for n in SEALED)
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT id, {columns} FROM tip_event WHERE id > :last "
                f"AND ({' OR '.join(f'{n} IS NOT NULL' for n in SEALED)}) ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        changes = []
        for row in rows:
            values: dict[str, object] = {"id": row[0]}
            changed = False
            for name, value in zip(SEALED, row[1:], strict=True):
                if value is not None and ring.key_of(value) not in ring.keys:
                    value = ring.seal_text(value, f"tip_event.{name}")
                    changed = True
                values[name] = value
            if changed:
                changes.append(values)
        if changes:
            bind.execute(sa.text(f"UPDATE tip_event SET {sets} WHERE id = :id"), changes)
        last = rows[-1][0]


def downgrade() -> None:
    # Sealed text stays as it is: a downgrade keeps the data it cannot restore without the
    # keys. Restore a backup taken before the upgrade to go back.
    pass
