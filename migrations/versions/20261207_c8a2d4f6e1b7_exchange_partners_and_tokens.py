"""exchange partners and their tokens (issue #14, item 3)

Revision ID: c8a2d4f6e1b7
Revises: b3f1e7a9c5d2
Create Date: 2026-12-07 14:00:00

- exchange_partner: a partner authority (a country's CITES Management Authority or customs) that
  reads our documents and confirms inspected quantities through /api/v1/exchange, with the
  fingerprint of its TLS client certificate when it authenticates by one;
- exchange_token: its bearer tokens, stored as SHA-256, expiring and revocable.
"""
from alembic import op
import sqlalchemy as sa

import registry.models.base


# revision identifiers, used by Alembic.
revision = 'c8a2d4f6e1b7'
down_revision = 'b3f1e7a9c5d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('exchange_partner',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('cert_fingerprint', sa.String(length=40), nullable=True),
    sa.Column('created_at', registry.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_partner')),
    sa.UniqueConstraint('cert_fingerprint', name=op.f('uq_exchange_partner_cert_fingerprint')),
    sa.UniqueConstraint('country', 'role', name=op.f('uq_exchange_partner_country_role'))
    )
    op.create_table('exchange_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', registry.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', registry.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', registry.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['exchange_partner.id'], name=op.f('fk_exchange_token_partner_id_exchange_partner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_exchange_token_token_hash'))
    )
    with op.batch_alter_table('exchange_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_token_partner_id'), ['partner_id'], unique=False)


def downgrade():
    with op.batch_alter_table('exchange_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_token_partner_id'))
    op.drop_table('exchange_token')
    op.drop_table('exchange_partner')
