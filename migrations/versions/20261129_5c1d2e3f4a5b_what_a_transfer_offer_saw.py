"""what a transfer offer saw of each animal

Revision ID: 5c1d2e3f4a5b
Revises: 7d2e1f0a9c41
Create Date: 2026-11-29 14:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1d2e3f4a5b'
down_revision = '7d2e1f0a9c41'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('transfer_animal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offered_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('offered_owner_party_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('offered_holder_party_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('offered_facility_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_transfer_animal_offered_owner_party_id_party'), 'party', ['offered_owner_party_id'], ['id']
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_transfer_animal_offered_holder_party_id_party'), 'party', ['offered_holder_party_id'], ['id']
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_transfer_animal_offered_facility_id_facility'), 'facility', ['offered_facility_id'], ['id']
        )


def downgrade():
    with op.batch_alter_table('transfer_animal', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_transfer_animal_offered_facility_id_facility'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_transfer_animal_offered_holder_party_id_party'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_transfer_animal_offered_owner_party_id_party'), type_='foreignkey')
        batch_op.drop_column('offered_facility_id')
        batch_op.drop_column('offered_holder_party_id')
        batch_op.drop_column('offered_owner_party_id')
        batch_op.drop_column('offered_version')
