"""permit boxes 12/12a/12b, 6 and 13; per-line source, purpose and origin; split listings (issue #14)

Revision ID: b3f1e7a9c5d2
Revises: e5b1c9d3f2a8
Create Date: 2026-12-07 14:10:00

- permit: the other side's document's date; box 12 (origin permit and date) and box 12a (country
  of last re-export, certificate, date); the issuing office (box 6) and the signatory (box 13);
- permit_line: source, purpose and origin per line (None: the permit's), box 12b (operation number
  or date of acquisition);
- species: first listing date, Appendix III listing States, distribution; species_population for
  split listings;
- user_account.office_code: the officer's regional office.
Existing rows keep their values: the new columns start empty.
"""
from alembic import op
import sqlalchemy as sa

import registry.models.base  # noqa: F401  (convention: migrations import the column types' module)


# revision identifiers, used by Alembic.
revision = 'b3f1e7a9c5d2'
down_revision = 'e5b1c9d3f2a8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('permit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('foreign_permit_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('origin_permit_no', sa.String(length=70), nullable=True))
        batch_op.add_column(sa.Column('origin_permit_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('reexport_country', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('reexport_permit_no', sa.String(length=70), nullable=True))
        batch_op.add_column(sa.Column('reexport_permit_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('issuing_office', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('signatory_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('signatory_title', sa.String(length=200), nullable=True))
    with op.batch_alter_table('permit_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_code', sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column('purpose_code', sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column('origin_country', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('operation_no', sa.String(length=70), nullable=True))
        batch_op.add_column(sa.Column('acquired_on', sa.Date(), nullable=True))
    with op.batch_alter_table('species', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('listing_countries', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('distribution', sa.Text(), nullable=True))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('office_code', sa.String(length=32), nullable=True))
    op.create_table(
        'species_population',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('species_id', sa.Integer(), nullable=False),
        sa.Column('countries', sa.String(length=200), nullable=False),
        sa.Column('appendix', sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(['species_id'], ['species.id'], name=op.f('fk_species_population_species_id_species')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_species_population')),
        sa.UniqueConstraint('species_id', 'countries', name=op.f('uq_species_population_species_id_countries')),
    )
    with op.batch_alter_table('species_population', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_species_population_species_id'), ['species_id'], unique=False)


def downgrade():
    with op.batch_alter_table('species_population', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_species_population_species_id'))
    op.drop_table('species_population')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('office_code')
    with op.batch_alter_table('species', schema=None) as batch_op:
        for name in ('distribution', 'listing_countries', 'listed_on'):
            batch_op.drop_column(name)
    with op.batch_alter_table('permit_line', schema=None) as batch_op:
        for name in ('acquired_on', 'operation_no', 'origin_country', 'purpose_code', 'source_code'):
            batch_op.drop_column(name)
    with op.batch_alter_table('permit', schema=None) as batch_op:
        for name in ('signatory_title', 'signatory_name', 'issuing_office', 'reexport_permit_date',
                     'reexport_permit_no', 'reexport_country', 'origin_permit_date', 'origin_permit_no',
                     'foreign_permit_date'):
            batch_op.drop_column(name)
