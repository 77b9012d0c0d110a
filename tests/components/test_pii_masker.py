"""PiiMasker: personal data is masked, ordinary numbers are not."""

import pytest

from components.safety.pii_masker import PiiMasker
from tests.components.helpers import round_trip


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        ("Write to jane.doe@example.com today", "Write to [EMAIL] today", "email"),
        ("Card 4111 1111 1111 1111 was charged", "Card [CARD] was charged", "card"),
        ("Call +1 (415) 555-0132 now", "Call [PHONE] now", "phone"),
        ("Call 020 7946 0958 now", "Call [PHONE] now", "phone"),
        ("My account number is 12345678.", "My account number is [ACCOUNT].", "account"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please", "iban"),
    ],
)
def test_personal_data_is_masked(text, masked, kind):
    result = PiiMasker().run(text=text)
    assert result["text"] == masked
    assert result["found"] == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "Plus costs 4.99 per month or 49.99 per year.",
        "Released on 2024-05-01, version 3.4.1, error E503.",
        "Card 4111 1111 1111 1112 fails the Luhn check.",
        "Refunds within 14 days; 30 minutes; 5 attempts.",
    ],
)
def test_ordinary_numbers_are_left_alone(text):
    assert PiiMasker().run(text=text) == {"text": text, "found": {}}


def test_only_the_chosen_kinds_are_masked_and_round_trip():
    masker = PiiMasker(kinds=["email"])
    assert masker.run(text="a@b.io +1 415 555 0132")["text"] == "[EMAIL] +1 415 555 0132"
    assert round_trip(masker)[0].kinds == ["email"]
    with pytest.raises(ValueError, match="unknown kinds"):
        PiiMasker(kinds=["ssn"])
