"""Hypothesis stateful test over APPLICATION_MACHINE and OFFER_MACHINE as the offers verbs
compose them (marketplace/offers/services.py): every step any actor tries goes through the
transition tables (a refused step changes nothing), and the two aggregates stay consistent:
an offer is signed exactly when its application is accepted, an open offer belongs to an
approved application, at most one offer of an application is open, and every state change
seen is a row of a table."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from marketplace.accounts.roles import permissions_of
from marketplace.actors import SYSTEM, Actor
from marketplace.applications.statuses import APPLICATION_MACHINE, ApplicationStatus
from marketplace.errors import InvalidTransition, PermissionDenied
from marketplace.offers.statuses import OFFER_MACHINE, OfferStatus
from marketplace.statemachine import StateMachine

A = ApplicationStatus
OS = OfferStatus


def _actor(kind: str, role: str) -> Actor:
    return Actor(
        user_id=1, kind=kind, label=role, role=role, permissions=permissions_of(kind, role)
    )


BORROWER = _actor("borrower", "borrower")
OFFICER = _actor("staff", "loan_officer")
RISK = _actor("staff", "risk_officer")  # views leads, does not work them
ACTORS = st.sampled_from([BORROWER, OFFICER, RISK, SYSTEM])


@dataclass
class Case:
    application: ApplicationStatus = A.SUBMITTED
    offers: list[OfferStatus] = field(default_factory=list)


class OfferLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.case = Case()
        self.moves: list[tuple[str, str, str]] = []  # (machine, from, to) actually taken

    def _take(self, machine: StateMachine, state: str, action: str, actor: Actor) -> str:
        target = machine.target(state, action, actor)
        assert machine.transitions(state)[action].target is target
        self.moves.append(
            ("application" if machine is APPLICATION_MACHINE else "offer", state, target)
        )
        return target

    def _try(self, step) -> None:
        before = (self.case.application, list(self.case.offers))
        try:
            step()
        except (InvalidTransition, PermissionDenied):
            # The verbs run in one transaction: a refused step leaves both rows as they were.
            self.case.application, self.case.offers = before

    def _open(self) -> int | None:
        return next((i for i, s in enumerate(self.case.offers) if s is OS.OPEN), None)

    @rule(
        actor=ACTORS,
        action=st.sampled_from(
            ["deliver", "review", "reject", "request_documents", "return_documents"]
        ),
    )
    def lead_move(self, actor: Actor, action: str) -> None:
        def step() -> None:
            self.case.application = self._take(
                APPLICATION_MACHINE, self.case.application, action, actor
            )

        self._try(step)

    @rule(actor=ACTORS)
    def make_offer(self, actor: Actor) -> None:
        """approve + a new open offer, together."""

        def step() -> None:
            self.case.application = self._take(
                APPLICATION_MACHINE, self.case.application, "approve", actor
            )
            self.case.offers.append(OS.OPEN)

        self._try(step)

    @rule(actor=ACTORS)
    def sign(self, actor: Actor) -> None:
        def step() -> None:
            i = self._open()
            if i is None:
                raise InvalidTransition("no open offer")
            self.case.offers[i] = self._take(OFFER_MACHINE, self.case.offers[i], "sign", actor)
            self.case.application = self._take(
                APPLICATION_MACHINE, self.case.application, "accept", actor
            )

        self._try(step)

    @rule(actor=ACTORS)
    def decline(self, actor: Actor) -> None:
        def step() -> None:
            i = self._open()
            if i is None:
                raise InvalidTransition("no open offer")
            self.case.offers[i] = self._take(OFFER_MACHINE, self.case.offers[i], "decline", actor)
            self.case.application = self._take(
                APPLICATION_MACHINE, self.case.application, "withdraw", actor
            )

        self._try(step)

    @rule(actor=ACTORS)
    def withdraw(self, actor: Actor) -> None:
        def step() -> None:
            self.case.application = self._take(
                APPLICATION_MACHINE, self.case.application, "withdraw", actor
            )
            self.case.offers = [
                self._take(OFFER_MACHINE, s, "withdraw", actor) if s is OS.OPEN else s
                for s in self.case.offers
            ]

        self._try(step)

    @rule()
    def expire(self) -> None:
        """The cron: set-based, on open offers only (the application stays approved)."""
        if OS.OPEN in self.case.offers:
            self.moves.append(("offer", OS.OPEN, OS.EXPIRED))
        self.case.offers = [OS.EXPIRED if s is OS.OPEN else s for s in self.case.offers]

    @invariant()
    def signed_exactly_when_accepted(self) -> None:
        assert (OS.SIGNED in self.case.offers) == (self.case.application is A.ACCEPTED)
        assert self.case.offers.count(OS.SIGNED) <= 1

    @invariant()
    def an_open_offer_is_on_an_approved_application(self) -> None:
        assert self.case.offers.count(OS.OPEN) <= 1
        if OS.OPEN in self.case.offers:
            assert self.case.application is A.APPROVED

    @invariant()
    def offers_come_only_with_an_approval(self) -> None:
        if self.case.offers:
            assert self.case.application in (A.APPROVED, A.ACCEPTED, A.WITHDRAWN)
        assert len(self.case.offers) <= 1, "a lead is approved once"

    @invariant()
    def every_move_is_a_row_of_its_table(self) -> None:
        for machine_name, before, after in self.moves:
            machine = APPLICATION_MACHINE if machine_name == "application" else OFFER_MACHINE
            assert after in {t.target for t in machine.transitions(before).values()}


TestOfferLifecycle = OfferLifecycle.TestCase
TestOfferLifecycle.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)


def test_an_expired_offer_leaves_nothing_to_sign_or_decline() -> None:
    assert OFFER_MACHINE.is_terminal(OS.EXPIRED)
    assert not OFFER_MACHINE.actions(OS.EXPIRED, BORROWER)


def test_only_the_borrower_responds_to_an_offer() -> None:
    for actor in (OFFICER, RISK, SYSTEM):
        assert not OFFER_MACHINE.actions(OS.OPEN, actor)
    assert {a.name for a in OFFER_MACHINE.actions(OS.OPEN, BORROWER)} == {
        "sign",
        "decline",
        "withdraw",
    }
