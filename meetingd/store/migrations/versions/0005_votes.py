"""votes, ballots, minutes and the audit chain

Revision ID: 0005
Revises: 0004

The audit log becomes a hash chain: existing rows are chained in id order here, so an
upgraded database verifies like a new one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from meetingd.store.audit import GENESIS, chain_hash

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _chain_existing_rows() -> tuple[int, str]:
    """Give every existing audit row its place and hashes; answers the chain's tail."""
    conn = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer),
        sa.column("n", sa.BigInteger),
        sa.column("at", TS),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("subject", sa.String),
        sa.column("data", sa.JSON),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    rows = conn.execute(
        sa.select(
            audit.c.id, audit.c.at, audit.c.actor, audit.c.action, audit.c.subject, audit.c.data
        ).order_by(audit.c.id)
    ).all()
    prev, n = GENESIS, 0
    for row_id, at, actor, action, subject, data in rows:
        n += 1
        h = chain_hash(prev, n, at, actor, action, subject, data)
        conn.execute(
            sa.update(audit).where(audit.c.id == row_id).values(n=n, prev_hash=prev, hash=h)
        )
        prev = h
    return n, prev


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("n", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    n, tail = _chain_existing_rows()
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("n", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(batch.f("uq_audit_log_n"), ["n"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    if n:  # a fresh database gets its head with its first audit row
        op.bulk_insert(head, [{"id": 1, "n": n, "hash": tail}])

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("max_choices", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("allow_change", sa.Boolean(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("quorum", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("deadline", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.CheckConstraint("kind in ('open','named','secret')", name=op.f("ck_votes_kind")),
        sa.CheckConstraint(
            "rule in ('present','members','two_thirds')", name=op.f("ck_votes_rule")
        ),
        sa.CheckConstraint("state in ('open','closed')", name=op.f("ck_votes_state")),
        sa.ForeignKeyConstraint(
            ["agenda_item_id"],
            ["agenda_items.id"],
            name=op.f("fk_votes_agenda_item_id_agenda_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_votes_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
    )
    op.create_index(op.f("ix_votes_meeting_id"), "votes", ["meeting_id"])
    op.create_index(op.f("ix_votes_deadline"), "votes", ["deadline"])

    def vote_fk(table: str) -> sa.ForeignKeyConstraint:
        return sa.ForeignKeyConstraint(
            ["vote_id"], ["votes.id"], name=op.f(f"fk_{table}_vote_id_votes"), ondelete="CASCADE"
        )

    op.create_table(
        "vote_electors",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        vote_fk("vote_electors"),
        sa.PrimaryKeyConstraint("vote_id", "subject", name=op.f("pk_vote_electors")),
    )
    op.create_table(
        "vote_ballots",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("voter", sa.String(length=64), nullable=False),
        sa.Column("choice", sa.JSON(), nullable=False),
        sa.Column("cast_at", TS, nullable=False),
        vote_fk("vote_ballots"),
        sa.PrimaryKeyConstraint("vote_id", "voter", name=op.f("pk_vote_ballots")),
    )
    op.create_table(
        "vote_voters",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("voter", sa.String(length=64), nullable=False),
        vote_fk("vote_voters"),
        sa.PrimaryKeyConstraint("vote_id", "voter", name=op.f("pk_vote_voters")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "vote_choices",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("receipt_hash", sa.String(length=64), nullable=False),
        sa.Column("choice", sa.JSON(), nullable=False),
        vote_fk("vote_choices"),
        sa.PrimaryKeyConstraint("vote_id", "receipt_hash", name=op.f("pk_vote_choices")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "minutes",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("finalised_at", TS, nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("state in ('draft','final')", name=op.f("ck_minutes_state")),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_minutes_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", name=op.f("pk_minutes")),
    )


def downgrade() -> None:
    op.drop_table("minutes")
    op.drop_table("vote_choices")
    op.drop_table("vote_voters")
    op.drop_table("vote_ballots")
    op.drop_table("vote_electors")
    op.drop_index(op.f("ix_votes_deadline"), table_name="votes")
    op.drop_index(op.f("ix_votes_meeting_id"), table_name="votes")
    op.drop_table("votes")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(batch.f("uq_audit_log_n"), type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("n")
