"""The complaint lifecycle's one transition table: the paths PRODUCT.md §5 and issue #12
name, who may take each step, and what each side is offered."""

from __future__ import annotations

import pytest

from marketplace.actors import Actor
from marketplace.complaints.statuses import (
    ANSWER,
    AUTOCLOSE,
    CATEGORIES,
    COMPLAINT_MACHINE,
    FILE,
    HANDLE,
    ComplaintKind,
    ComplaintStatus,
)
from marketplace.errors import InvalidTransition, PermissionDenied

S = ComplaintStatus


def _actor(*permissions: str) -> Actor:
    return Actor(user_id=1, kind="x", label="x", permissions=frozenset(permissions))


OPERATOR = _actor(HANDLE, "complaint.view")
STAFF = _actor(ANSWER)
BORROWER = _actor(FILE)
SYSTEM = _actor(AUTOCLOSE)


@pytest.mark.parametrize(
    ("state", "action", "actor", "target"),
    [
        (S.OPEN, "assign", OPERATOR, S.ASSIGNED),
        (S.ASSIGNED, "forward", OPERATOR, S.AWAITING_INSTITUTION),
        (S.ASSIGNED, "resolve", OPERATOR, S.RESOLVED),
        (S.AWAITING_INSTITUTION, "answer", STAFF, S.RESOLVED),
        (S.AWAITING_INSTITUTION, "escalate", OPERATOR, S.ESCALATED),
        (S.ESCALATED, "resolve", OPERATOR, S.RESOLVED),
        (S.ESCALATED, "close", OPERATOR, S.CLOSED),
        (S.RESOLVED, "reopen", BORROWER, S.ESCALATED),
        (S.RESOLVED, "rate", BORROWER, S.CLOSED),
        (S.RESOLVED, "autoclose", SYSTEM, S.CLOSED),
    ],
)
def test_the_named_paths(state, action, actor, target):
    assert COMPLAINT_MACHINE.target(state, action, actor) is target


@pytest.mark.parametrize(
    ("state", "action", "actor"),
    [
        (S.OPEN, "assign", STAFF),
        (S.OPEN, "assign", BORROWER),
        (S.AWAITING_INSTITUTION, "answer", OPERATOR),
        (S.RESOLVED, "rate", OPERATOR),
        (S.RESOLVED, "autoclose", OPERATOR),
        (S.ASSIGNED, "resolve", STAFF),
    ],
)
def test_a_step_belongs_to_its_side(state, action, actor):
    with pytest.raises(PermissionDenied):
        COMPLAINT_MACHINE.target(state, action, actor)


@pytest.mark.parametrize(
    ("state", "action"),
    [(S.OPEN, "resolve"), (S.OPEN, "forward"), (S.CLOSED, "reopen"), (S.ASSIGNED, "rate")],
)
def test_no_shortcuts(state, action):
    with pytest.raises(InvalidTransition):
        COMPLAINT_MACHINE.target(state, action, _actor(HANDLE, ANSWER, FILE, AUTOCLOSE))


def test_closed_is_the_only_end_and_each_side_sees_its_own_buttons():
    assert [s for s in S if COMPLAINT_MACHINE.is_terminal(s)] == [S.CLOSED]
    assert [a.name for a in COMPLAINT_MACHINE.actions(S.RESOLVED, BORROWER)] == ["rate", "reopen"]
    assert [a.name for a in COMPLAINT_MACHINE.actions(S.AWAITING_INSTITUTION, STAFF)] == ["answer"]


def test_complaint_and_feedback_categories_do_not_mix():
    assert not set(CATEGORIES[ComplaintKind.COMPLAINT]) & set(CATEGORIES[ComplaintKind.FEEDBACK])
