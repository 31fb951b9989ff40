"""foreign document ledger

Revision ID: 7d2e1f0a9c41
Revises: b4b30de31181
Create Date: 2026-11-29 14:15:00.000000

"""
from alembic import op
import sqlalchemy as sa

import registry.models.base


# revision identifiers, used by Alembic.
revision = '7d2e1f0a9c41'
down_revision = 'b4b30de31181'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('foreign_document_use',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('document_no', sa.String(length=70), nullable=False),
    sa.Column('permit_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('cleared', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('warning', sa.Text(), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('overridden_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', registry.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['overridden_by_id'], ['user_account.id'], name=op.f('fk_foreign_document_use_overridden_by_id_user_account')),
    sa.ForeignKeyConstraint(['permit_id'], ['permit.id'], name=op.f('fk_foreign_document_use_permit_id_permit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_foreign_document_use')),
    sa.UniqueConstraint('permit_id', name=op.f('uq_foreign_document_use_permit_id'))
    )
    with op.batch_alter_table('foreign_document_use', schema=None) as batch_op:
        batch_op.create_index('ix_foreign_document_use_key', ['country', 'document_no'], unique=False)


def downgrade():
    with op.batch_alter_table('foreign_document_use', schema=None) as batch_op:
        batch_op.drop_index('ix_foreign_document_use_key')
    op.drop_table('foreign_document_use')
