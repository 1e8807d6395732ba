"""The outbox's fast form of the award e-mail reads back exactly as ``award_message`` does
(the ``EmailMessage`` builder is the oracle), for the names and addresses people have."""

from __future__ import annotations

from email import message_from_string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer import mail


def _read(stored: str) -> tuple[list[str], list[tuple[str, str]]]:
    message = message_from_string(stored, policy=mail._POLICY)
    headers = [str(message[name]) for name in ("Subject", "From", "To")]
    parts = [(part.get_content_type(), part.get_content()) for part in message.iter_parts()]
    return headers, parts


def _both(**values: str) -> tuple[object, object]:
    fields = {
        "sender": "Badges <badges@example.org>",
        "recipient": "grace@example.org",
        "recipient_name": "Grace Hopper",
        "achievement_name": "Computer User Support Specialist — Proficient",
        "issuer_name": "Example Issuer",
        "page_url": "https://b.example/credentials/1",
        "settings_url": "https://b.example/credentials/1/settings?t=a=b",
    } | values
    return _read(mail._stored(mail.award_message(**fields))), _read(
        mail.stored_award_message(**fields)
    )


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"recipient_name": ""},
        {"recipient_name": 'Zoë "Z" Ångström, Ph.D. ' * 4},
        {"recipient": "zoe@exämple.org"},
        {"recipient": "zoë@example.org"},
        {"achievement_name": "Plain ASCII level", "issuer_name": "Ünïversity <b>&</b>"},
        {"sender": "Bådges <badges@example.org>"},
    ],
)
def test_the_fast_form_reads_back_as_the_message(values: dict[str, str]) -> None:
    reference, fast = _both(**values)
    assert fast == reference


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=80),
    achievement=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80),
)
def test_any_name_reads_back_the_same(name: str, achievement: str) -> None:
    reference, fast = _both(recipient_name=name, achievement_name=achievement)
    assert fast == reference
    # Not only alike: the subject is the achievement's name, every space kept (the header
    # registry's own folding once dropped one between two encoded words).
    assert fast[0][0] == "Your badge: " + " ".join(achievement.splitlines())


def test_a_space_between_two_encoded_words_is_kept() -> None:
    reference, fast = _both(achievement_name=" \u0800" + "\U00010000" * 7 + " \u00a1")
    assert reference[0][0] == fast[0][0] == "Your badge:  \u0800" + "\U00010000" * 7 + " \u00a1"
