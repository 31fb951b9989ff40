"""the foreign-document ledger learns the import permits written before it existed

Revision ID: 8c4f2a6e1b93
Revises: 3f6a9d1c7e25
Create Date: 2026-11-29 17:30:00

Without a ledger row, an older permit's foreign document was invisible to the second-use checks:
a new application citing the same document was not flagged, and both cleared at the border. Each
older import permit citing a foreign document gets the row the application would have written:
the document's key (exporting country, number normalised as the ledger does), the quantity its
lines ask for and what has cleared at the border on it. Written here in SQL, not through the
application's code, so this migration means the same whatever that code becomes.
"""
from datetime import datetime, timezone
from decimal import Decimal

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8c4f2a6e1b93'
down_revision = '3f6a9d1c7e25'
branch_labels = None
depends_on = None


def backfill(conn) -> int:
    """Give every import permit that cites a foreign document and has no ledger row its row; returns how many."""
    permits = conn.execute(sa.text(
        "SELECT id, export_country, foreign_permit_no FROM permit "
        "WHERE doc_type = 'import' AND foreign_permit_no IS NOT NULL AND export_country IS NOT NULL "
        "AND id NOT IN (SELECT permit_id FROM foreign_document_use) ORDER BY id"
    )).all()
    insert = sa.text(
        "INSERT INTO foreign_document_use (country, document_no, permit_id, quantity, cleared, created_at) "
        "VALUES (:country, :document_no, :permit_id, :quantity, :cleared, :now)"
    ).bindparams(
        sa.bindparam("quantity", type_=sa.Numeric(14, 3)),
        sa.bindparam("cleared", type_=sa.Numeric(14, 3)),
        sa.bindparam("now", type_=sa.DateTime(timezone=True)),
    )
    now = datetime.now(timezone.utc)
    if conn.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored naive there, as the models' UTC columns do
    written = 0
    for permit_id, country, number in permits:
        document_no = "".join(number.split()).upper()
        if not document_no:
            continue
        asked = conn.execute(
            sa.text("SELECT COALESCE(SUM(quantity), 0) FROM permit_line WHERE permit_id = :id"), {"id": permit_id}
        ).scalar_one()
        cleared = conn.execute(
            sa.text(
                "SELECT COALESCE(SUM(e.quantity), 0) FROM endorsed_line e JOIN permit_line l ON l.id = e.line_id "
                "WHERE l.permit_id = :id AND e.outcome = 'cleared'"
            ),
            {"id": permit_id},
        ).scalar_one()
        conn.execute(
            insert,
            {
                "country": country,
                "document_no": document_no,
                "permit_id": permit_id,
                "quantity": Decimal(str(asked)),
                "cleared": Decimal(str(cleared)),
                "now": now,
            },
        )
        written += 1
    return written


def upgrade():
    backfill(op.get_bind())


def downgrade():
    # The rows are what the application writes for every permit since: nothing to undo.
    pass
