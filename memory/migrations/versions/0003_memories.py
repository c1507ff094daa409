"""personal memories (Chroma indexes them; this table is the truth)

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime, nullable=True),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("conflicts_with", sa.Integer,
                  sa.ForeignKey("memories.id", ondelete="SET NULL"), nullable=True),
        sa.Column("embedding", sa.LargeBinary, nullable=True),
        sa.Column("embedding_model", sa.String(100), nullable=True),
        sa.Column("indexed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_memories_kind", "memories", ["kind"])
    op.create_index("ix_memories_status", "memories", ["status"])
    op.create_index("ix_memories_text_hash", "memories", ["text_hash"])
    op.create_index("ix_memories_indexed", "memories", ["indexed"])


def downgrade() -> None:
    op.drop_table("memories")
