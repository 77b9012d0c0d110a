"""What an answer claims beyond its words: yes/no polarity, code identifiers, quantities.

Shared word-overlap support misses the errors a small model makes most: "Yes" where the
documents say no, a deprecated or made-up name of an API, a number with the wrong unit. These
helpers find such claims so that the verifier can check each against the documents.
"""

import re

# A question a yes or a no answers: it opens with an auxiliary verb and offers no choice.
_YES_NO = re.compile(
    r"^\s*(do|does|did|is|are|was|were|can|could|should|must|will|would|may|might|has|have|"
    r"had|shall|am)\b(?!.*\bor\b)",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(not|no|never|none|neither|nor|cannot|without|regardless|irrespective)\b|n't\b|\bnon-",
    re.IGNORECASE,
)
_VERDICT = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
# Code identifiers: `backticked`, snake_case, CamelCase with an inner capital, dotted.path.
_BACKTICKED = re.compile(r"`([^`\n]{1,80})`")
_IDENTIFIER = re.compile(
    r"(?<![\w.])(?:[A-Za-z_]\w*_\w+|[A-Z][a-z0-9]+[A-Z]\w*|[A-Z]{2,}[a-z]\w*|"
    r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?)(?![\w])"
)
# Words around a name that say it is no longer the one to use.
_OUTDATED = re.compile(
    r"\b(deprecated|replaced by|renamed|no longer|legacy|obsolete|instead of|old name)\b",
    re.IGNORECASE,
)
_UNITS = (
    "seconds|second|minutes|minute|hours|hour|days|day|weeks|week|months|month|years|year|"
    "ms|s|h|kb|mb|gb|tb|bytes|byte|characters|character|chars|euros|euro|eur|dollars|dollar|"
    "usd|percent|%|times|devices|device|users|requests|workers|items|pages|attempts|tries"
)
_QUANTITY = re.compile(
    r"([$€£])\s?(\d+(?:[.,]\d+)*)|(\d+(?:[.,]\d+)*)\s?(" + _UNITS + r")\b", re.IGNORECASE
)


def is_yes_no(question: str) -> bool:
    """Whether `question` asks for a yes or a no ("Can I ...?", not "Is it A or B?")."""
    return bool(_YES_NO.match(question))


def negated(text: str) -> bool:
    """Whether `text` says something is not so (not, never, without, can't, ...)."""
    return bool(_NEGATION.search(text))


def polarity_verdict(question: str, evidence: str) -> str:
    """ "yes" when the question and its evidence are both negated or neither is, else "no"."""
    return "yes" if negated(question) == negated(evidence) else "no"


def verdict(answer: str) -> str | None:
    """ "yes" or "no" when `answer` opens with one, else None."""
    found = _VERDICT.match(answer)
    return found.group(1).lower() if found else None


def identifiers(text: str) -> list[str]:
    """The code identifiers `text` names: backticked, snake_case, CamelCase, dotted names."""
    found = [m.group(1).strip() for m in _BACKTICKED.finditer(text)]
    found += [m.group(0) for m in _IDENTIFIER.finditer(_BACKTICKED.sub(" ", text))]
    return list(dict.fromkeys(name.removesuffix("()") for name in found if name))


def outdated(name: str, context: str) -> bool:
    """Whether every sentence of `context` that names `name` marks it as outdated."""
    lines = [s for s in re.split(r"(?<=[.!?])\s+|\n", context) if name in s]
    return bool(lines) and all(_OUTDATED.search(line) for line in lines)


def quantities(text: str) -> set[str]:
    """The numbers with their units in `text`, normalised ("28 days", "$ 6", "500 mb")."""
    found = set()
    for match in _QUANTITY.finditer(text):
        if match.group(1):
            found.add(f"{match.group(1)} {match.group(2).replace(',', '')}")
        else:
            found.add(f"{match.group(3).replace(',', '')} {_unit(match.group(4))}")
    return found


def _unit(unit: str) -> str:
    """A unit in one form: lower case, singular."""
    unit = unit.lower()
    if len(unit) > 3 and unit.endswith("s"):
        return unit[:-1]
    return unit


def novel_claims(sentence: str, context: str, novel: list[str]) -> list[str]:
    """Identifiers and numbers with units of `sentence` that `context` never writes (those
    whose number or name is already in `novel` are counted once)."""
    seen = {item.lower() for item in novel}
    found = [
        name for name in identifiers(sentence) if name not in context and name.lower() not in seen
    ]
    written = quantities(context)
    for quantity in sorted(quantities(sentence) - written):
        number = quantity.split(" ")[-1] if quantity[0] in "$€£" else quantity.split(" ")[0]
        if number not in seen:
            found.append(quantity)
    return found


def contradictions(sentence: str, query: str, evidence: str | None, context: str) -> list[str]:
    """What `sentence` says against the documents: a yes/no verdict that the `evidence`
    sentence's polarity contradicts, identifiers every mention marks as outdated."""
    found = []
    said = verdict(sentence)
    if evidence is not None and said is not None:
        expected = polarity_verdict(query, evidence)
        if said != expected:
            found.append(f"{said} (the documents say {expected}: {evidence[:120]})")
    found += [
        f"{name} (outdated)"
        for name in identifiers(sentence)
        if name in context and outdated(name, context)
    ]
    return found
