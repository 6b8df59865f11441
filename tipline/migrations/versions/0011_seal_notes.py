"""sealed at rest: what staff type on a tip's timeline (notes, reasons, referral partner and
reference), like the traveler's words

Revision ID: 0011_seal_notes
Revises: 0010_desk
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import context, op

from tipline.sealing.existing import seal_columns

revision = "0011_seal_notes"
down_revision = "0010_desk"
branch_labels = None
depends_on = None

SEALED = ("reason", "note", "referred_to", "referral_ref")
WIDENED = ("reason", "referred_to", "referral_ref")  # note is TEXT already


def upgrade() -> None:
    ring = context.config.attributes["keyring"]
    seal_columns(op.get_bind(), ring, "tip_event", SEALED, widen=WIDENED)


def downgrade() -> None:
    # Sealed text stays as it is: a downgrade keeps the data it cannot restore without the
    # keys. Restore a backup taken before the upgrade to go back.
    pass
