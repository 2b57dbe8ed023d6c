"""the speech log, the speaking-time limit and the order of the speaking queue

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("floor_entries") as batch:
        batch.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("position", sa.Integer(), nullable=False, server_default="0")
        )
        batch.create_index(batch.f("ix_floor_entries_deadline"), ["deadline"])
    op.create_table(
        "floor_speeches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("limit_seconds", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_floor_speeches_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_floor_speeches")),
    )
    op.create_index(op.f("ix_floor_speeches_meeting_id"), "floor_speeches", ["meeting_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_floor_speeches_meeting_id"), table_name="floor_speeches")
    op.drop_table("floor_speeches")
    with op.batch_alter_table("floor_entries") as batch:
        batch.drop_index(batch.f("ix_floor_entries_deadline"))
        batch.drop_column("position")
        batch.drop_column("deadline")
