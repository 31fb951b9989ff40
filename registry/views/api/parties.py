from sqlalchemy import select

from registry.extensions import db
from registry.models import Party
from registry.services import reference
from registry.views.api.common import access_first, api_blueprint, idempotent, page, require
from registry.views.api.schemas import PageQuery, PartySchema, page_of
from registry.views.helpers import require_actor

blp = api_blueprint("api_parties", "People and organisations")


@blp.get("/parties")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(PartySchema))
def list_parties(args):
    """Every party (officers, auditors and administrators)."""
    require("party.read_all")
    return page(select(Party), Party.id, args)


@blp.post("/parties")
@access_first("party.manage")
@idempotent
@blp.arguments(PartySchema)
@blp.response(201, PartySchema)
def create_party(data):
    """Register a person or organisation."""
    require("party.manage")
    return reference.create_party(require_actor(), **data)


@blp.get("/parties/<int(min=1, max=2147483647):party_id>")
@blp.etag
@blp.response(200, PartySchema)
def get_party(party_id: int):
    actor = require_actor()
    if actor.party_id != party_id:
        require("party.read_all")
    return db.get_or_404(Party, party_id)
