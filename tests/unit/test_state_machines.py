"""The transition tables: every entry reachable, nothing leaves a terminal state, random
walks stay inside the declared states, and the actions offered to a role are exactly the
ones the verbs would accept from it."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.accounts.roles import _PERMISSIONS, permissions_of
from marketplace.actors import SYSTEM, Actor
from marketplace.agreements.statuses import AGREEMENT_MACHINE, AgreementStatus
from marketplace.applications.statuses import (
    APPLICATION_MACHINE,
    IN_PROGRESS_STATUSES,
    LEAD_STATUSES,
    OPEN_STATUSES,
    TIMELINE_PATH,
    ApplicationStatus,
)
from marketplace.errors import InvalidTransition, PermissionDenied
from marketplace.institutions.statuses import INSTITUTION_MACHINE, InstitutionStatus
from marketplace.partners.statuses import PARTNER_MACHINE, PartnerStatus
from marketplace.prescreen.statuses import RULE_SET_MACHINE, RuleSetStatus
from marketplace.products.statuses import (
    LISTING_ACTIONS,
    PRODUCT_MACHINE,
    STATUS_HINTS,
    ProductStatus,
)
from marketplace.promotions.statuses import PROMOTION_MACHINE, SCHEDULER, PromotionStatus
from marketplace.settlement.statuses import STATEMENT_MACHINE, StatementStatus
from marketplace.statemachine import StateMachine

MACHINES: dict[str, tuple[StateMachine, str]] = {
    "product": (PRODUCT_MACHINE, ProductStatus.DRAFT),
    "application": (APPLICATION_MACHINE, ApplicationStatus.SUBMITTED),
    "agreement": (AGREEMENT_MACHINE, AgreementStatus.OFFERED),
    "institution": (INSTITUTION_MACHINE, InstitutionStatus.APPROVED),
    "prescreen_rule_set": (RULE_SET_MACHINE, RuleSetStatus.DRAFT),
    "promotion": (PROMOTION_MACHINE, PromotionStatus.REQUESTED),
    "partner_application": (PARTNER_MACHINE, PartnerStatus.SUBMITTED),
    "statement": (STATEMENT_MACHINE, StatementStatus.DRAFT),
}
ALL_PERMISSIONS = frozenset(
    transition.permission
    for machine, _ in MACHINES.values()
    for exits in machine.table.values()
    for transition in exits.values()
)
ALMIGHTY = Actor(user_id=None, kind="test", label="test", permissions=ALL_PERMISSIONS)
ROLES = [
    Actor(user_id=1, kind=kind, label=role, role=role, permissions=permissions_of(kind, role))
    for kind, role in _PERMISSIONS
] + [SYSTEM, SCHEDULER]


def _actor(kind: str, role: str) -> Actor:
    return Actor(
        user_id=1, kind=kind, label=role, role=role, permissions=permissions_of(kind, role)
    )


def _reachable(machine: StateMachine, start: str) -> tuple[set, set]:
    """States and (state, action) entries reachable from `start`."""
    seen_states, seen_entries = {machine.state(start)}, set()
    queue = deque([machine.state(start)])
    while queue:
        state = queue.popleft()
        for action, transition in machine.transitions(state).items():
            seen_entries.add((state, action))
            if transition.target not in seen_states:
                seen_states.add(transition.target)
                queue.append(transition.target)
    return seen_states, seen_entries


@pytest.mark.parametrize("name", MACHINES)
def test_every_state_and_every_table_entry_is_reachable(name):
    machine, start = MACHINES[name]
    states, entries = _reachable(machine, start)
    assert states == set(machine.states)
    assert entries == {
        (state, action) for state, exits in machine.table.items() for action in exits
    }


@pytest.mark.parametrize("name", MACHINES)
def test_targets_are_declared_states_with_labels(name):
    machine, _ = MACHINES[name]
    for state, exits in machine.table.items():
        assert state in machine.states
        for transition in exits.values():
            assert isinstance(transition.target, machine.states)
            assert transition.label and transition.style in {"primary", "secondary", "danger"}
    assert all(machine.label(state) for state in machine.states)


@pytest.mark.parametrize("name", MACHINES)
def test_no_action_from_a_terminal_state(name):
    machine, _ = MACHINES[name]
    terminal = [state for state in machine.states if machine.is_terminal(state)]
    assert terminal, "a lifecycle must end somewhere"
    for state in terminal:
        assert not machine.actions(state, ALMIGHTY)
        for action in {a for exits in machine.table.values() for a in exits}:
            with pytest.raises(InvalidTransition):
                machine.target(state, action, ALMIGHTY)


def test_terminal_states_are_the_expected_ones():
    assert {s for s in ProductStatus if PRODUCT_MACHINE.is_terminal(s)} == {ProductStatus.DELISTED}
    assert {s for s in ApplicationStatus if APPLICATION_MACHINE.is_terminal(s)} == {
        ApplicationStatus.REJECTED,
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.ACCEPTED,
        ApplicationStatus.NOT_DELIVERED,
    }
    assert {s for s in PromotionStatus if PROMOTION_MACHINE.is_terminal(s)} == {
        PromotionStatus.REJECTED,
        PromotionStatus.ENDED,
        PromotionStatus.WITHDRAWN,
    }


def test_an_application_ends_at_the_decision_and_acceptance_loans_are_elsewhere():
    values = {s.value for s in ApplicationStatus}
    assert not values & {"signed", "disbursed", "repaying", "settled", "overdue"}
    assert APPLICATION_MACHINE.transitions("approved")["accept"].target == "accepted"
    assert set(TIMELINE_PATH) <= set(ApplicationStatus)
    assert IN_PROGRESS_STATUSES <= OPEN_STATUSES
    assert ApplicationStatus.SUBMITTED not in LEAD_STATUSES


@pytest.mark.parametrize("name", MACHINES)
@pytest.mark.parametrize("actor", ROLES, ids=lambda a: f"{a.kind}:{a.role}")
def test_actions_offered_are_exactly_those_the_verbs_accept(name, actor):
    machine, _ = MACHINES[name]
    for state in machine.states:
        offered = {action.name for action in machine.actions(state, actor)}
        accepted = set()
        for action in machine.transitions(state):
            try:
                machine.target(state, action, actor)
            except PermissionDenied:
                continue
            accepted.add(action)
        assert offered == accepted


def test_roles_see_only_what_they_may_do():
    officer, admin = _actor("staff", "loan_officer"), _actor("staff", "institution_admin")
    reviewer, auditor = _actor("operator", "product_reviewer"), _actor("operator", "auditor")
    for state in ProductStatus:
        officer_actions = {a.name for a in PRODUCT_MACHINE.actions(state, officer)}
        assert not officer_actions, "a loan officer never pauses, delists or edits"
        assert not PRODUCT_MACHINE.actions(state, auditor)
    assert {a.name for a in PRODUCT_MACHINE.actions("listed", admin)} == {"pause", "delist"}
    assert {a.name for a in PRODUCT_MACHINE.actions("pending_review", admin)} == set()
    assert {a.name for a in PRODUCT_MACHINE.actions("pending_review", reviewer)} == {
        "approve",
        "reject",
    }
    assert {a.name for a in APPLICATION_MACHINE.actions("delivered", officer)} == {
        "review",
        "reject",
        "request_documents",
    }
    # Handing documents back is the borrower's step, never a button on the lead page.
    assert {a.name for a in APPLICATION_MACHINE.actions("documents_requested", officer)} == {
        "reject"
    }
    assert {
        a.name
        for a in APPLICATION_MACHINE.actions("documents_requested", _actor("borrower", "borrower"))
    } >= {"return_documents"}
    risk = _actor("staff", "risk_officer")
    assert not APPLICATION_MACHINE.actions("delivered", risk)
    with pytest.raises(PermissionDenied):
        APPLICATION_MACHINE.target("delivered", "review", risk)
    # Delivery is the system's step, not a button anyone has.
    assert {a.name for a in APPLICATION_MACHINE.actions("submitted", SYSTEM)} == {
        "deliver",
        "withdraw",
        "refuse_delivery",
    }
    for actor in (officer, admin, reviewer, _actor("borrower", "borrower")):
        assert not APPLICATION_MACHINE.actions("submitted", actor)


def test_action_values_are_typed_and_translated():
    (pause, delist) = PRODUCT_MACHINE.actions("listed", _actor("staff", "institution_admin"))
    assert (pause.name, pause.label, pause.target, pause.target_label) == (
        "pause",
        "暂停申请",
        "paused",
        "已暂停",
    )
    assert delist.style == "danger"
    assert {a for exits in PRODUCT_MACHINE.table.values() for a in exits} >= LISTING_ACTIONS
    assert set(STATUS_HINTS) == set(ProductStatus)


def test_a_stored_value_outside_the_enum_is_refused():
    with pytest.raises(ValueError):
        APPLICATION_MACHINE.state("signed")
    with pytest.raises(ValueError):
        PRODUCT_MACHINE.actions("archived", ALMIGHTY)


ACTION_NAMES = sorted(
    {a for machine, _ in MACHINES.values() for exits in machine.table.values() for a in exits}
    | {"", "status", "listed", "DROP TABLE"}
)


@pytest.mark.parametrize("name", MACHINES)
@given(walk=st.lists(st.tuples(st.sampled_from(ACTION_NAMES), st.sampled_from(ROLES)), max_size=40))
def test_random_walks_never_leave_the_declared_states(name, walk):
    machine, start = MACHINES[name]
    state = machine.state(start)
    for action, actor in walk:
        offered = {a.name for a in machine.actions(state, actor)}
        try:
            target = machine.target(state, action, actor)
        except (InvalidTransition, PermissionDenied):
            assert action not in offered
            continue
        assert action in offered
        assert target in machine.states and target == machine.table[state][action].target
        state = target
        assert isinstance(state, machine.states)


def test_a_table_that_names_an_unlabelled_or_undeclared_state_is_refused():
    from enum import StrEnum

    from marketplace.statemachine import Transition

    class Door(StrEnum):
        OPEN = "open"
        SHUT = "shut"

    class Other(StrEnum):
        GONE = "gone"

    with pytest.raises(ValueError, match="without a label"):
        StateMachine(Door, {Door.OPEN: "开"}, {})
    with pytest.raises(ValueError, match="undeclared"):
        StateMachine(
            Door,
            {Door.OPEN: "开", Door.SHUT: "关"},
            {Door.OPEN: {"vanish": Transition(Other.GONE, "door.use", "消失")}},
        )


def test_statement_actions_by_role():
    """Operators who manage settlement build, issue and take payment; the institution's
    admin and finance staff confirm or dispute; nobody else acts on a statement."""
    super_admin = _actor("operator", "super_admin")
    admin = _actor("staff", "institution_admin")
    finance = _actor("staff", "finance")
    auditor = _actor("operator", "auditor")
    officer = _actor("staff", "loan_officer")
    names = lambda state, actor: {a.name for a in STATEMENT_MACHINE.actions(state, actor)}  # noqa: E731
    assert names("draft", super_admin) == {"issue", "rebuild"}
    assert names("issued", admin) == names("issued", finance) == {"confirm", "dispute"}
    assert names("adjusted", admin) == {"confirm", "dispute"}
    assert names("confirmed", super_admin) == {"settle"}
    assert names("confirmed", admin) == set()
    for nobody in (auditor, officer):
        assert all(not names(state, nobody) for state in StatementStatus)
    assert STATEMENT_MACHINE.is_terminal("settled")
