"""sealed at rest: the referral partner and reference kept on the tip itself, as they already
are on its timeline

Revision ID: 0012_seal_referral
Revises: 0011_seal_notes
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import context, op

from tipline.sealing.existing import seal_columns

revision = "0012_seal_referral"
down_revision = "0011_seal_notes"
branch_labels = None
depends_on = None

SEALED = ("referred_to", "referral_ref")


def upgrade() -> None:
    ring = context.config.attributes["keyring"]
    seal_columns(op.get_bind(), ring, "tip", SEALED, widen=SEALED)


def downgrade() -> None:
    # As 0011: sealed text stays sealed; restore a backup taken before the upgrade to go back.
    pass
