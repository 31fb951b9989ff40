"""partners' Idempotency-Key answers (issue #14)

Revision ID: d381cae57d03
Revises: d4b6f8a0c2e3
Create Date: 2026-12-07 15:00:00

- partner_idempotent_request: the first answer to an exchange partner's POST sent with an
  Idempotency-Key (a confirmation of quantities retried after a timeout is recorded once), as
  idempotent_request keeps users' (a partner is no user, so its keys cannot go there).
"""
from alembic import op
import sqlalchemy as sa

import registry.models.base


# revision identifiers, used by Alembic.
revision = 'd381cae57d03'
down_revision = 'd4b6f8a0c2e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('partner_idempotent_request',
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', registry.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['exchange_partner.id'], name=op.f('fk_partner_idempotent_request_partner_id_exchange_partner')),
    sa.PrimaryKeyConstraint('partner_id', 'key', name=op.f('pk_partner_idempotent_request'))
    )


def downgrade():
    op.drop_table('partner_idempotent_request')
