from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.commands import transfers as commands
from registry.extensions import db
from registry.i18n import _
from registry.machines import TRANSFER
from registry.models import Transfer
from registry.permissions import can_see_transfer, visible_transfers
from registry.services import transfers
from registry.services.errors import NotFound
from registry.views.api.common import access_first, api_blueprint, idempotent, page, require
from registry.views.api.schemas import TransferQuery, TransferSchema, page_of
from registry.views.helpers import require_actor

blp = api_blueprint("api_transfers", "Transfers between keepers, with a handshake")
READ = ("transfer.start", "transfer.answer", "transfer.acknowledge", "animal.read_all")


def _visible(transfer_id: int) -> Transfer:
    t = db.session.get(Transfer, transfer_id)
    if t is None or not can_see_transfer(require_actor(), t):
        raise NotFound(_("no such transfer"))
    return t


@blp.get("/transfers")
@blp.arguments(TransferQuery, location="query")
@blp.response(200, page_of(TransferSchema))
def list_transfers(args):
    """Transfers the caller is party to (every transfer for officers), newest first."""
    require(*READ)
    query = visible_transfers(require_actor(), select(Transfer)).options(selectinload(Transfer.animals))
    state = args.pop("state")
    if state:
        query = query.where(Transfer.state == state)
    return page(query, Transfer.id, args)


@blp.post("/transfers")
@access_first("transfer.start")
@idempotent
@blp.arguments(commands.TransferOfferSchema)
@blp.response(201, TransferSchema)
def start_transfer(offer):
    """Offer animals (one owner, in captivity) to the keeper holding a registered facility."""
    require("transfer.start")
    return transfers.start(require_actor(), offer)


@blp.get("/transfers/<int(min=1, max=2147483647):transfer_id>")
@blp.etag
@blp.response(200, TransferSchema)
def get_transfer(transfer_id: int):
    require(*READ)
    return _visible(transfer_id)


#: What each answer's endpoint says about itself in the API document.
ANSWER_DOCS = {
    commands.Accept: "Accept the offer: every animal moves to the facility now (the transferee).",
    commands.Decline: "Decline the offer (the transferee).",
    commands.Cancel: "Withdraw the offer before it is answered (the transferor).",
    commands.Acknowledge: "Acknowledge an accepted transfer (a ministry officer).",
}


def _answer_endpoint(event: str, schema: type[commands.TransferAnswerSchema]) -> None:
    """``POST /transfers/{id}/actions/<event>``, whose body is the answer's command."""

    def act_on_transfer(command, transfer_id: int):
        require(*READ)
        _visible(transfer_id)
        return transfers.record_transfer_event(require_actor(), transfer_id, command)

    act_on_transfer.__name__ = f"transfer_{event}"
    act_on_transfer.__doc__ = ANSWER_DOCS[schema.command]
    view = blp.response(200, TransferSchema)(act_on_transfer)
    view = idempotent(blp.arguments(schema)(view))
    capability = TRANSFER.transitions[event].capability
    view = access_first(capability, model=Transfer, can_see=can_see_transfer, key="transfer_id")(view)
    blp.post(f"/transfers/<int(min=1, max=2147483647):transfer_id>/actions/{event}")(view)


for _event, _schema in commands.ANSWER_SCHEMAS.items():
    _answer_endpoint(_event, _schema)
