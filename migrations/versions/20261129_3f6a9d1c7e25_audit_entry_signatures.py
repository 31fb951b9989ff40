"""audit entries carry the registry's signature; the head knows when the last checkpoint was signed

Revision ID: 3f6a9d1c7e25
Revises: 3e7a9c1b5d20
Create Date: 2026-11-29 16:20:00

"""
from alembic import op
import sqlalchemy as sa

import registry.models.base


# revision identifiers, used by Alembic.
revision = '3f6a9d1c7e25'
down_revision = '3e7a9c1b5d20'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE, not a batch copy: recreating the tables on SQLite would drop their triggers.
    op.add_column('audit_entry', sa.Column('signature', sa.String(length=120), nullable=True))
    op.add_column('audit_head', sa.Column('checkpoint_at', registry.models.base.UTCDateTime(timezone=True), nullable=True))
    op.add_column('audit_head', sa.Column('signed_from', sa.Integer(), server_default='1', nullable=False))
    op.add_column('audit_checkpoint', sa.Column('signed_from', sa.Integer(), nullable=True))
    # The entries already written cannot be signed after the fact without vouching for whatever they
    # now say: signatures are required from the next entry on, and the write path signs checkpoints from then on.
    op.execute("UPDATE audit_head SET signed_from = seq + 1")
    op.execute("UPDATE audit_head SET checkpoint_at = (SELECT MAX(signed_at) FROM audit_checkpoint)")


def downgrade():
    op.drop_column('audit_checkpoint', 'signed_from')
    op.drop_column('audit_head', 'signed_from')
    op.drop_column('audit_head', 'checkpoint_at')
    op.drop_column('audit_entry', 'signature')
