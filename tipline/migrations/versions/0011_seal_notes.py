"""sealed at rest: what staff type on a tip's timeline (notes, reasons, referral partner and
reference), like the traveler's words

Revision ID: 0011_seal_notes
Revises: 0010_desk
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import context, op

from tipline.sealing.existing import seal_existing

revision = "0011_seal_notes"
down_revision = "0010_desk"
branch_labels = None
depends_on = None

SEALED = ("reason", "note", "referred_to", "referral_ref")
WIDENED = ("reason", "referred_to", "referral_ref")  # note is TEXT already


def upgrade() -> None:
    bind = op.get_bind()
    # A sealed value is longer than its text: the varchar sizes go (the forms still bound
    # every field). SQLite does not enforce a VARCHAR length, so its table stays as it is.
    if bind.dialect.name == "postgresql":
        for name in WIDENED:
            op.execute(f"ALTER TABLE tip_event ALTER COLUMN {name} TYPE TEXT")
    seal_existing(bind, context.config.attributes["keyring"], "tip_event", SEALED)


def downgrade() -> None:
    # Sealed text stays as it is: a downgrade keeps the data it cannot restore without the
    # keys. Restore a backup taken before the upgrade to go back.
    pass
