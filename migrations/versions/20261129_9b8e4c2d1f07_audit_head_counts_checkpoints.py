"""the audit head counts the checkpoints signed, so deleting them shows

Revision ID: 9b8e4c2d1f07
Revises: 5c1d2e3f4a5b
Create Date: 2026-11-29 14:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9b8e4c2d1f07'
down_revision = '5c1d2e3f4a5b'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE, not a batch copy: recreating audit_head on SQLite would drop its triggers.
    op.add_column('audit_head', sa.Column('checkpoints', sa.Integer(), server_default='0', nullable=False))
    op.add_column('audit_head', sa.Column('checkpoint_seq', sa.Integer(), server_default='0', nullable=False))
    # The checkpoints already signed count from now on.
    op.execute(
        "UPDATE audit_head SET checkpoints = (SELECT COUNT(*) FROM audit_checkpoint), "
        "checkpoint_seq = COALESCE((SELECT MAX(seq) FROM audit_checkpoint), 0)"
    )


def downgrade():
    op.drop_column('audit_head', 'checkpoint_seq')
    op.drop_column('audit_head', 'checkpoints')
