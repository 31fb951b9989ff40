"""The two lifecycles, declared as data: ``ANIMAL`` and ``PERMIT``."""
from registry.machines.animal import ANIMAL, AnimalState
from registry.machines.base import Guard, IllegalTransition, Machine, Transition
from registry.machines.permit import PERMIT, PermitState

__all__ = ["ANIMAL", "PERMIT", "AnimalState", "PermitState", "Guard", "IllegalTransition", "Machine", "Transition"]
