"""The lifecycles, declared as data: animals, permits, transfers and facilities."""
from registry.machines.animal import ANIMAL, AnimalState
from registry.machines.base import Guard, IllegalTransition, Machine, Transition
from registry.machines.facility import FACILITY, FacilityState
from registry.machines.permit import PERMIT, PermitState
from registry.machines.transfer import TRANSFER, TransferState

__all__ = ["ANIMAL", "FACILITY", "PERMIT", "TRANSFER", "FacilityState", "AnimalState", "PermitState", "TransferState", "Guard", "IllegalTransition", "Machine", "Transition"]
