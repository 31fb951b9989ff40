"""an account can be told to choose a new password at its next login

Revision ID: a7d3c5e9f214
Revises: 8c4f2a6e1b93
Create Date: 2026-12-07 06:45:00

Set when an administrator chose the password (a new account, a reset): the administrator knows
it, so the user must replace it before doing anything else. Existing accounts start with false.
"""
from alembic import op
import sqlalchemy as sa

import registry.models.base  # noqa: F401  (convention: migrations import the column types' module)


# revision identifiers, used by Alembic.
revision = 'a7d3c5e9f214'
down_revision = '8c4f2a6e1b93'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
