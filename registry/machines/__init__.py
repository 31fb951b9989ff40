"""The lifecycles, declared as data: animals, permits, transfers and facilities."""

from registry.machines.animal import ANIMAL, AnimalState
from registry.machines.base import Guard, IllegalTransition, Machine, Transition
from registry.machines.facility import FACILITY, FacilityState
from registry.machines.permit import PERMIT, PermitState
from registry.machines.transfer import TRANSFER, TransferState

MACHINES = {m.name: m for m in (ANIMAL, FACILITY, PERMIT, TRANSFER)}

__all__ = [
    "MACHINES",
    "ANIMAL",
    "FACILITY",
    "PERMIT",
    "TRANSFER",
    "FacilityState",
    "AnimalState",
    "PermitState",
    "TransferState",
    "Guard",
    "IllegalTransition",
    "Machine",
    "Transition",
]
