from sqlalchemy import select

from registry.extensions import db
from registry.i18n import _
from registry.models import Transfer
from registry.permissions import can_see_transfer, visible_transfers
from registry.services import transfers
from registry.services.errors import NotFound
from registry.views.api.common import api_blueprint, idempotent, page, require
from registry.views.api.schemas import TransferActionSchema, TransferQuery, TransferSchema, page_of
from registry.views.helpers import current_actor

blp = api_blueprint("api_transfers", "Transfers between keepers, with a handshake")
READ = ("transfer.start", "transfer.answer", "transfer.acknowledge", "animal.read_all")


def _visible(transfer_id: int) -> Transfer:
    t = db.session.get(Transfer, transfer_id)
    if t is None or not can_see_transfer(current_actor(), t):
        raise NotFound(_("no such transfer"))
    return t


@blp.get("/transfers")
@blp.arguments(TransferQuery, location="query")
@blp.response(200, page_of(TransferSchema))
def list_transfers(args):
    """Transfers the caller is party to (every transfer for officers), newest first."""
    require(*READ)
    query = visible_transfers(current_actor(), select(Transfer))
    state = args.pop("state")
    if state:
        query = query.where(Transfer.state == state)
    return page(query, Transfer.id, args)


@blp.post("/transfers")
@idempotent
@blp.arguments(TransferSchema)
@blp.response(201, TransferSchema)
def start_transfer(data):
    """Offer animals (one owner, in captivity) to the keeper holding a registered facility."""
    require("transfer.start")
    return transfers.start(current_actor(), data)


@blp.get("/transfers/<int(min=1, max=2147483647):transfer_id>")
@blp.etag
@blp.response(200, TransferSchema)
def get_transfer(transfer_id: int):
    require(*READ)
    return _visible(transfer_id)


@blp.post(
    "/transfers/<int(min=1, max=2147483647):transfer_id>/actions/<any(accept, decline, acknowledge, cancel):action>"
)
@idempotent
@blp.arguments(TransferActionSchema)
@blp.response(200, TransferSchema)
def act_on_transfer(data, transfer_id: int, action: str):
    """Accept or decline (the transferee), cancel (the transferor), acknowledge (a ministry officer)."""
    require(*READ)
    _visible(transfer_id)
    return transfers.act(current_actor(), action, transfer_id, note=data["note"], expected_version=data["version"])
