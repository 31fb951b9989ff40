"""permit.foreign_permit_learned_on: a foreign document learned after issue (issue #14)

Revision ID: d4b6f8a0c2e3
Revises: c8a2d4f6e1b7
Create Date: 2026-12-07 15:00:00

An Appendix I import permit is issued before the exporting country's permit exists; customs (or
the partner's e-permit) supplies it later. The date it was learned marks it, so the printed
permit stays the document that was issued. Existing rows: empty (every foreign document on
record so far was given before issue, the rules then required it).
"""
from alembic import op
import sqlalchemy as sa

import registry.models.base  # noqa: F401  (convention: migrations import the column types' module)


# revision identifiers, used by Alembic.
revision = 'd4b6f8a0c2e3'
down_revision = 'c8a2d4f6e1b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('permit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('foreign_permit_learned_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('permit', schema=None) as batch_op:
        batch_op.drop_column('foreign_permit_learned_on')
