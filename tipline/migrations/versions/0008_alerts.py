"""alerts that escalate: a step per announcement, channel tiers, kept channel history

Revision ID: 0008_alerts
Revises: 0007_harden_staff
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_alerts"
down_revision = "0007_harden_staff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Neither table carries triggers, so SQLite's batch rebuild loses nothing.
    with op.batch_alter_table("oncall_channel", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tier", sa.String(length=16), nullable=False, server_default="primary")
        )
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_oncall_channel_tier_known"), "tier IN ('primary', 'secondary')"
        )

    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("cancelled_reason", sa.String(length=200), nullable=True))
        batch_op.drop_constraint("uq_alert_tip_id_channel_id", type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_alert_tip_id_channel_id_step"), ["tip_id", "channel_id", "step"]
        )
        batch_op.create_check_constraint(op.f("ck_alert_step_natural"), "step >= 0")

    op.create_table(
        "alert_escalation",
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("step >= 1", name=op.f("ck_alert_escalation_step_positive")),
        sa.ForeignKeyConstraint(
            ["tip_id"],
            ["tip.id"],
            name=op.f("fk_alert_escalation_tip_id_tip"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tip_id", "step", name=op.f("pk_alert_escalation")),
    )
    # Cancelled rows written before this revision were cancelled by a staff view.
    op.execute(
        "UPDATE alert SET cancelled_reason = 'tip opened' "
        "WHERE status = 'cancelled' AND cancelled_reason IS NULL"
    )


def downgrade() -> None:
    op.drop_table("alert_escalation")
    # Only the first announcements fit the old one-row-per-channel rule.
    op.execute("DELETE FROM alert WHERE step > 0")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alert_step_natural"), type_="check")
        batch_op.drop_constraint(op.f("uq_alert_tip_id_channel_id_step"), type_="unique")
        batch_op.create_unique_constraint("uq_alert_tip_id_channel_id", ["tip_id", "channel_id"])
        batch_op.drop_column("cancelled_reason")
        batch_op.drop_column("step")
    op.execute("DELETE FROM oncall_channel WHERE removed_at IS NOT NULL")
    with op.batch_alter_table("oncall_channel", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_oncall_channel_tier_known"), type_="check")
        batch_op.drop_column("removed_at")
        batch_op.drop_column("tier")
