"""Mask personal data (emails, phone, card and account numbers) in text."""

import re
from typing import Any

from haystack import component

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
# 13 to 19 digits, optionally grouped by spaces or dashes, as card numbers are written.
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_ACCOUNT = re.compile(
    r"\b((?:account|acct|customer|member)(?:\s+(?:number|no\.?|id))?(?:\s+(?:is|was))?[\s:#]*)"
    r"(\d[\d -]{4,}\d)",
    re.IGNORECASE,
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}[./-]\d{2}[./-]\d{4}")
# An international or national number: optional +country code, groups of digits with spaces,
# dots, dashes or parentheses, 8 to 15 digits in all, not part of a longer run of digits.
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){6,13}\b"
    r"(?![ .-]?\d)"
)

KINDS = ("email", "card", "iban", "account", "phone")


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@component
class PiiMasker:
    """Replace personal data in text with a typed placeholder such as `[EMAIL]`.

    Found: email addresses, payment card numbers (13-19 digits passing the Luhn check), IBANs,
    numbers introduced as an account, customer or member number, and phone numbers (8-15
    digits, optionally with a + country code). Dates, prices and version numbers are short or
    punctuated differently and are left alone.

    Usage:
    ```python
    masker = PiiMasker()
    masker.run(text="Write to jane@example.com")["text"]   # "Write to [EMAIL]"
    ```
    """

    def __init__(self, *, kinds: list[str] | None = None) -> None:
        """Create the masker.

        :param kinds: which kinds to mask, among email, card, iban, account, phone (default
            all).
        """
        unknown = set(kinds or []) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        self.kinds = list(kinds) if kinds is not None else list(KINDS)

    @component.output_types(text=str, found=dict[str, int])
    def run(self, text: str) -> dict[str, Any]:
        """Mask `text`.

        :returns: `text`, masked, and `found`, how many of each kind were masked.
        """
        found: dict[str, int] = {}

        def count(kind: str, replacement: str) -> str:
            found[kind] = found.get(kind, 0) + 1
            return replacement

        if "email" in self.kinds:
            text = _EMAIL.sub(lambda m: count("email", "[EMAIL]"), text)
        if "card" in self.kinds:
            text = _CARD.sub(
                lambda m: count("card", "[CARD]") if _luhn(re.sub(r"\D", "", m[0])) else m[0],
                text,
            )
        if "iban" in self.kinds:
            text = _IBAN.sub(lambda m: count("iban", "[IBAN]"), text)
        if "account" in self.kinds:
            text = _ACCOUNT.sub(lambda m: m[1] + count("account", "[ACCOUNT]"), text)
        if "phone" in self.kinds:
            text = _PHONE.sub(
                lambda m: count("phone", "[PHONE]") if _is_phone(m[0]) else m[0], text
            )
        return {"text": text, "found": found}


def _is_phone(text: str) -> bool:
    return 8 <= sum(char.isdigit() for char in text) <= 15 and not _DATE.fullmatch(text)
