"""The handshake of a transfer between keepers: started, accepted or declined, acknowledged.

Guards read ``ctx.actor`` and ``ctx.transfer``; ``ctx.command`` (the answer, registry.commands.transfers)
is there too, though no guard needs it yet.
"""

from enum import StrEnum

from registry.i18n import N_, _
from registry.machines.base import Guard, Machine, Transition
from registry.permissions import acts_for


class TransferState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    ACKNOWLEDGED = "acknowledged"


S = TransferState
# Keyed by plain str: the machine looks labels up by the state stored in a column.
LABELS: dict[str, str] = {
    S.PENDING: N_("Waiting for the transferee"),
    S.ACCEPTED: N_("Accepted"),
    S.DECLINED: N_("Declined"),
    S.CANCELLED: N_("Cancelled"),
    S.ACKNOWLEDGED: N_("Acknowledged by the authority"),
}


def _is_transferee(ctx) -> str | None:
    if not acts_for(ctx.actor, ctx.transfer.transferee_party_id):
        return _("only the transferee can accept or decline a transfer")
    return None


def _is_transferor(ctx) -> str | None:
    if not acts_for(ctx.actor, ctx.transfer.transferor_party_id):
        return _("only the transferor can cancel a transfer")
    return None


TRANSFEREE = Guard("is_transferee", "the transferee answers", _is_transferee)
TRANSFEROR = Guard("is_transferor", "the transferor withdraws", _is_transferor)

TRANSFER = Machine(
    "transfer",
    TransferState,
    noun=N_("transfer"),
    terminal={S.DECLINED, S.CANCELLED, S.ACKNOWLEDGED},
    state_labels=LABELS,
    transitions=[
        Transition("start", frozenset(), S.PENDING, "transfer.start", N_("Start a transfer")),
        Transition("accept", frozenset({S.PENDING}), S.ACCEPTED, "transfer.answer", N_("Accept"), (TRANSFEREE,)),
        Transition("decline", frozenset({S.PENDING}), S.DECLINED, "transfer.answer", N_("Decline"), (TRANSFEREE,)),
        Transition("cancel", frozenset({S.PENDING}), S.CANCELLED, "transfer.start", N_("Cancel"), (TRANSFEROR,)),
        Transition("acknowledge", frozenset({S.ACCEPTED}), S.ACKNOWLEDGED, "transfer.acknowledge", N_("Acknowledge")),
    ],
)
