"""A small declarative state machine: states, events, capabilities and guards as data.

Each event names the states it may leave, the state it enters, the capability
an actor needs to fire it, and guards (named predicates over the service's
context that return a refusal reason or ``None``). An event with no source
states creates a new object. Any (state, event) pair that is not declared is
refused with a reason, so nothing is ever a silent no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from registry.i18n import _


class IllegalTransition(Exception):
    """The event cannot be fired from the current state, or a guard refused it."""

    def __init__(self, machine: str, state: str | None, event: str, reason: str, field: str | None = None):
        super().__init__(reason)
        self.machine, self.state, self.event, self.reason = machine, state, event, reason
        self.field = field  # the input field the refusal is about, if a guard judged one


@dataclass(frozen=True)
class Guard:
    """A named precondition. ``check(ctx)`` returns a refusal reason, or None to allow."""

    name: str
    description: str
    check: Callable[[Any], str | None]
    #: True when the guard judges what the user is about to type (a reason, a facility), so it
    #: cannot be evaluated before the form is filled in.
    on_input: bool = False
    #: The input field it judges: forms show the refusal next to it, the API names it.
    field: str | None = None


@dataclass(frozen=True)
class Transition:
    event: str
    sources: frozenset[str]  # empty: the event creates the object
    target: str
    capability: str
    label: str
    guards: tuple[Guard, ...] = field(default=())

    @property
    def creates(self) -> bool:
        return not self.sources


class Machine:
    def __init__(
        self,
        name: str,
        states: type[StrEnum],
        terminal: Iterable[StrEnum],
        transitions: Iterable[Transition],
        state_labels: dict[str, str],
        noun: str,
    ):
        self.name = name
        self.noun = noun  # "permit", marked for translation: how refusals name the record
        self.states = states
        self.terminal = frozenset(terminal)
        self.state_labels = state_labels
        self.transitions: dict[str, Transition] = {}
        for t in transitions:
            if t.event in self.transitions:
                raise ValueError(f"{name}: event {t.event!r} declared twice")
            unknown = (t.sources | {t.target}) - set(states)
            if unknown:
                raise ValueError(f"{name}.{t.event}: unknown states {sorted(unknown)}")
            if t.sources & self.terminal:
                raise ValueError(f"{name}.{t.event}: leaves a terminal state")
            self.transitions[t.event] = t
        missing = set(states) - state_labels.keys()
        if missing:
            raise ValueError(f"{name}: states without a label {sorted(missing)}")

    @property
    def events(self) -> list[str]:
        return list(self.transitions)

    def rejection(self, state: str | None, event: str) -> str | None:
        """The reason (state, event) is refused, in the reader's language, or None when it is declared."""
        t = self.transitions.get(event)
        noun = _(self.noun)
        if t is None:
            return _("'%(event)s' is not an event of the %(noun)s lifecycle", event=event, noun=noun)
        if state is None:
            if t.creates:
                return None
            return _("'%(action)s' applies to an existing %(noun)s; it cannot create one", action=_(t.label), noun=noun)
        if t.creates:
            return _(
                "'%(action)s' creates a new %(noun)s; it cannot be applied to an existing one",
                action=_(t.label),
                noun=noun,
            )
        if state in self.terminal:
            return _(
                "the %(noun)s is in the final state '%(state)s': no further events are possible",
                noun=noun,
                state=self.label(state),
            )
        if state not in t.sources:
            return _(
                "'%(action)s' is possible only when the %(noun)s is %(allowed)s; it is now '%(state)s'",
                action=_(t.label),
                noun=noun,
                state=self.label(state),
                allowed=_(" or ").join(f"'{self.label(s)}'" for s in sorted(t.sources)),
            )
        return None

    def label(self, state: str) -> str:
        """The state's name in the reader's language."""
        return _(self.state_labels[state])

    def transition(self, state: str | None, event: str) -> Transition:
        """The declared transition for (state, event).

        :raises IllegalTransition: with the reason, when the pair is not declared.
        """
        reason = self.rejection(state, event)
        if reason is not None:
            raise IllegalTransition(self.name, state, event, reason)
        return self.transitions[event]

    def allowed(self, state: str | None, event: str, ctx: Any) -> Transition:
        """The transition for (state, event) once every guard agrees.

        :raises IllegalTransition: with the reason, when the pair is not declared or a guard refuses.
        """
        t = self.transition(state, event)
        self.check_guards(t, state, ctx)
        return t

    def check_guards(self, t: Transition, state: str | None, ctx: Any) -> None:
        for guard in t.guards:
            reason = guard.check(ctx)
            if reason:
                raise IllegalTransition(self.name, state, t.event, reason, guard.field)

    def available(self, state: str | None) -> list[Transition]:
        """Transitions declared from *state* (guards and capabilities not yet checked)."""
        return [t for t in self.transitions.values() if self.rejection(state, t.event) is None]

    def blocked(self, t: Transition, ctx: Any) -> str | None:
        """The refusal of the first guard that does not depend on the user's input, or None."""
        for guard in t.guards:
            if not guard.on_input:
                reason = guard.check(ctx)
                if reason:
                    return reason
        return None
