"""Webhook signatures and receiver-URL checks: pure rules, with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.parsing import FieldError
from marketplace.webhooks.addresses import check_url
from marketplace.webhooks.signing import new_secret, signature_header, verify

NOW = 1_796_000_000


@given(body=st.binary(max_size=2000), flip=st.integers(min_value=0))
def test_a_signature_verifies_and_any_changed_byte_breaks_it(body: bytes, flip: int):
    secret = new_secret()
    header = signature_header([secret], NOW, body)
    assert verify(secret, header, body, now=NOW)
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 1]) + body[index + 1 :]
        assert not verify(secret, header, changed, now=NOW)


def test_either_secret_verifies_during_a_rotation_and_secrets_differ():
    old, new = new_secret(), new_secret()
    assert old != new and old.startswith("whsec_")
    header = signature_header([new, old], NOW, b"{}")
    assert verify(new, header, b"{}", now=NOW) and verify(old, header, b"{}", now=NOW)
    assert not verify(new_secret(), header, b"{}", now=NOW)


@pytest.mark.parametrize(
    "offset, ok", [(0, True), (300, True), (-300, True), (301, False), (-301, False)]
)
def test_timestamps_more_than_five_minutes_away_are_refused(offset: int, ok: bool):
    secret = new_secret()
    header = signature_header([secret], NOW, b"x")
    assert verify(secret, header, b"x", now=NOW + offset) is ok


@given(header=st.text(max_size=300))
def test_any_header_is_answered_without_raising(header: str):
    assert verify("whsec_x", header, b"body", now=NOW) in (True, False)


@given(url=st.text(max_size=600))
def test_any_url_is_accepted_or_refused_with_a_message(url: str):
    try:
        accepted = check_url(url)
    except FieldError as exc:
        assert exc.message
    else:
        assert accepted.lower().startswith(
            ("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")
        )
