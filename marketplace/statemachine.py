"""One transition table per aggregate, shared by the verbs that enforce it and the queries
that show what can be done.

A table maps each state to the actions that leave it: `{state: {action: Transition}}`.
A transition names its target state, the permission the actor needs and how its button
reads. Services ask `machine.target(...)` (raises InvalidTransition or PermissionDenied);
queries hand templates `machine.actions(...)`, the actions this actor may take now, so a
template never compares status strings and never shows a button the role or state forbids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from marketplace.errors import InvalidTransition, PermissionDenied
from marketplace.i18n import _


class _CanAct(Protocol):
    def can(self, permission: str) -> bool: ...


S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class Transition(Generic[S]):
    target: S
    permission: str
    label: str  # N_() marked; the button's wording
    style: str = "primary"  # primary | secondary | danger: how the button looks


@dataclass(frozen=True)
class Action:
    """An action the actor may take now, translated for the page."""

    name: str
    label: str
    target: str
    target_label: str
    style: str


@dataclass(frozen=True)
class Actions:
    """The actions allowed now; `"pause" in actions` and `actions.get("pause")` in templates."""

    items: tuple[Action, ...] = ()

    def __contains__(self, name: object) -> bool:
        return any(action.name == name for action in self.items)

    def __iter__(self) -> Iterator[Action]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def get(self, name: str) -> Action | None:
        return next((action for action in self.items if action.name == name), None)


class StateMachine(Generic[S]):
    def __init__(
        self,
        states: type[S],
        labels: Mapping[S, str],
        table: Mapping[S, Mapping[str, Transition[S]]],
    ) -> None:
        if missing := set(states) - set(labels):
            raise ValueError(f"states without a label: {sorted(missing)}")
        if strays := {t.target for exits in table.values() for t in exits.values()} - set(states):
            raise ValueError(f"transitions to undeclared states: {sorted(strays)}")
        self.states = states
        self.labels = labels
        self.table = table

    def state(self, value: str) -> S:
        """The stored string as a state; a value outside the enum is a programming error."""
        return self.states(value)

    def label(self, state: str) -> str:
        return _(self.labels[self.state(state)])

    def transitions(self, state: str) -> Mapping[str, Transition[S]]:
        return self.table.get(self.state(state), {})

    def is_terminal(self, state: str) -> bool:
        return not self.transitions(state)

    def actions(self, state: str, actor: _CanAct) -> Actions:
        return Actions(
            tuple(
                Action(
                    name=name,
                    label=_(transition.label),
                    target=str(transition.target),
                    target_label=self.label(transition.target),
                    style=transition.style,
                )
                for name, transition in self.transitions(state).items()
                if actor.can(transition.permission)
            )
        )

    def target(self, state: str, action: str, actor: _CanAct) -> S:
        """Where `action` takes an aggregate in `state`, if `actor` may take it."""
        transition = self.transitions(state).get(action)
        if transition is None:
            raise InvalidTransition(
                _(
                    "当前状态不能执行该操作（现为“{state}”），请刷新页面查看最新状态",
                    state=self.label(state),
                )
            )
        if not actor.can(transition.permission):
            raise PermissionDenied()
        return transition.target
