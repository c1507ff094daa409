"""cloud assist: the outbox (what leaves, when, to whom, what came back) and training examples

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True),
        sa.Column("message_id", sa.Integer,
                  sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=True),
        sa.Column("lease_token", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("restored", sa.Text, nullable=True),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.Column("reply_message_id", sa.Integer,
                  sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_outbox_conversation_id", "outbox", ["conversation_id"])
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_index("ix_outbox_next_attempt_at", "outbox", ["next_attempt_at"])
    op.create_table(
        "training_examples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("instruction", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("consent", sa.Boolean, nullable=False),
        sa.Column("outbox_id", sa.Integer,
                  sa.ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_training_examples_role", "training_examples", ["role"])
    op.create_index("ix_training_examples_consent", "training_examples", ["consent"])


def downgrade() -> None:
    op.drop_table("training_examples")
    op.drop_table("outbox")
