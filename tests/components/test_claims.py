"""The claims a verifier checks beyond shared words: polarity, identifiers, quantities."""

import pytest

from components.verification import claims


@pytest.mark.parametrize(
    ("question", "yes_no"),
    [
        ("Do I need a receipt for a taxi ride?", True),
        ("Can interns work remotely?", True),
        ("Is the limit 10 MB or 100 MB?", False),
        ("How many days of leave do I get?", False),
    ],
)
def test_yes_no_questions_are_told_apart(question, yes_no):
    assert claims.is_yes_no(question) is yes_no


def test_the_verdict_follows_the_polarity_of_question_and_evidence():
    assert claims.polarity_verdict("Are SMS codes supported?", "SMS codes are not supported.") == (
        "no"
    )
    assert claims.polarity_verdict("Is MFA mandatory?", "MFA is mandatory for email.") == "yes"
    assert claims.polarity_verdict("Can I work without approval?", "You need approval.") == "no"
    assert claims.verdict("Yes, you can.") == "yes" and claims.verdict("It is.") is None


def test_identifiers_are_found_in_every_spelling():
    text = "Use `Depends` with response_model_exclude_unset, HTTPException or app.include_router()."
    assert claims.identifiers(text) == [
        "Depends",
        "response_model_exclude_unset",
        "HTTPException",
        "app.include_router",
    ]


def test_a_name_is_outdated_only_when_every_mention_says_so():
    context = "on_event is deprecated, use lifespan instead. Lifespan runs at start-up."
    assert claims.outdated("on_event", context) is True
    assert claims.outdated("lifespan", context + " Use lifespan for models.") is False


def test_quantities_keep_their_units():
    assert claims.quantities("It costs $6, or 60 dollars a year, for 3 devices and 2 GB.") == {
        "$ 6",
        "60 dollar",
        "3 device",
        "2 gb",
    }
