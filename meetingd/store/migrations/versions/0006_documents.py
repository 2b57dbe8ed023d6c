"""documents, their audiences, notes and read receipts

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("page_sizes", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("sanitised", sa.Boolean(), nullable=False),
        sa.Column("signatures", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("presenters", sa.JSON(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("view_only", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", TZ, nullable=False),
        sa.Column("published_at", TZ, nullable=True),
        sa.CheckConstraint("state in ('draft','published')", name=op.f("ck_documents_state")),
        _fk("documents", "meeting_id", "meetings", "CASCADE"),
        _fk("documents", "agenda_item_id", "agenda_items", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    op.create_index(op.f("ix_documents_meeting_id"), "documents", ["meeting_id"])
    op.create_table(
        "document_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        _fk("document_notes", "document_id", "documents", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_notes")),
        sa.UniqueConstraint(
            "document_id", "author", "page", name="uq_document_notes_doc_author_page"
        ),
    )
    op.create_table(
        "document_accesses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("at", TZ, nullable=False),
        _fk("document_accesses", "document_id", "documents", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_accesses")),
    )
    op.create_index(op.f("ix_document_accesses_document_id"), "document_accesses", ["document_id"])
    op.create_table(
        "document_presentations",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("presenter", sa.String(length=64), nullable=False),
        sa.Column("presenter_name", sa.String(length=200), nullable=False),
        sa.Column("since", TZ, nullable=False),
        _fk("document_presentations", "meeting_id", "meetings", "CASCADE"),
        _fk("document_presentations", "document_id", "documents", "CASCADE"),
        sa.PrimaryKeyConstraint("meeting_id", name=op.f("pk_document_presentations")),
    )


def downgrade() -> None:
    op.drop_table("document_presentations")
    op.drop_index(op.f("ix_document_accesses_document_id"), table_name="document_accesses")
    op.drop_table("document_accesses")
    op.drop_table("document_notes")
    op.drop_index(op.f("ix_documents_meeting_id"), table_name="documents")
    op.drop_table("documents")
