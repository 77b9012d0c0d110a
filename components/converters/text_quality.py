"""How much of the text extracted from a file is real words: a guard against garbled text.

A PDF whose fonts lack a map from glyphs to characters (old TeX output, Type 3 fonts) extracts
as text that is not text: glyph codes instead of characters ("/1/9/9/5", "/a68/a105",
"(cid:12)") and words split at every kern ("Decem b er", "T ec hnology"); a text read in the
wrong encoding comes out with NUL or replacement characters between its letters. A file like
that is refused rather than indexed, so it cannot fill a collection with chunks that match
nothing.

The judgement uses no dictionary, so that it holds for any language. The text is cut at
whitespace into tokens; numbers, punctuation, links, and short names in code ("`q`", "-rf")
or in table cells are not judged. A token is not a word
when it is a glyph code; when it is a lowercase Latin fragment without a vowel ("b", "th",
"wn"), or a lone letter that is no word in the text's language ("y ou" in English, where only
"a" stands alone; "y", "e", "o" are words in texts with accented letters, and "w", "z", "v",
"s", "k" in Slavic ones); when it is a capital cut off from the rest of its word ("T ec"); or
when it is six or more lowercase Latin letters without a vowel. Every glyph code and every
character that no text holds (U+FFFD, control and private-use characters) counts as a token
that is not a word. Tokens in other scripts (Chinese, Japanese, Korean, Cyrillic, Greek,
Arabic, ...) count as words: without the language there is no telling a fragment.
"""

import re
import string
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from haystack import Document

# Below this many judged tokens a text is too short to call garbled.
MIN_TOKENS = 50
# What an extractor writes for a glyph it could not map to a character: "(cid:12)"
# (pdfminer), glyph names or codes such as "/1/9/9/5" or "/a68/a105" (pypdf), and characters
# that no text holds: U+FFFD, control characters other than whitespace, private-use ones.
_CID = re.compile(r"\(cid:\d+\)")
_CODE_RUN = re.compile(r"(?:/[A-Za-z]{0,2}\d{1,3}(?!\d)){2,}")
_ONE_CODE = re.compile(r"/[A-Za-z]{0,2}\d{1,3}")
_BAD_CHARS = re.compile(r"[\ufffd\x00-\x08\x0e-\x1f\x7f-\x9f\ue000-\uf8ff]")
_ACCENTED = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")
_SLAVIC = re.compile("[ąęłńśźżćčďěňřšťůĺľŕđ]", re.IGNORECASE)
_VOWELS = frozenset("aeiouy")
# Lone lowercase letters that are words: English "a"; Romance "e", "o", "y", "à" (texts with
# accented letters); Slavic prepositions "w", "z", "v", "s", "k" (texts with Slavic letters).
_ENGLISH_LONE = frozenset("a")
_ACCENTED_LONE = frozenset("aeiouy")
_SLAVIC_LONE = _ACCENTED_LONE | frozenset("wzvsk")
# Words without a vowel found in documents of any language: units; commands and types of code.
_UNITS = frozenset({"mm", "cm", "km", "nm", "kg", "mg", "ml", "ms", "px", "pt", "ft", "lb"})
_CODE_WORDS = frozenset({"cd", "ls", "rm", "pwd", "npm", "str", "kb", "mb", "gb"})
_FRAGMENT_MAX = 3
_NO_VOWEL_MAX = 6
# Punctuation around a short token that marks it as code or a label, not a piece of a word.
_CODE_MARKS = frozenset("`\"'()[]{}<>=_*/\\|@#$%&~+-")
_EDGE = string.punctuation + "«»“”‘’„‚‹›·•–—…¡¿"
# Files whose cells may hold lone letters as codes ("x", "b"): short tokens are not judged.
DATA_TYPES = frozenset({"csv", "tsv", "xlsx", "xls", "json", "ndjson", "xml", "yaml", "yml"})


@dataclass(frozen=True)
class TextQuality:
    """Real words among the judged tokens of a text; the counts of pages add up to a file's."""

    words: int = 0
    tokens: int = 0

    def __add__(self, other: "TextQuality") -> "TextQuality":
        return TextQuality(self.words + other.words, self.tokens + other.tokens)

    @property
    def score(self) -> float | None:
        """The share of real words (0 to 1), or None when too few tokens were judged."""
        return self.words / self.tokens if self.tokens >= MIN_TOKENS else None


def text_quality(text: str, *, prose: bool = True) -> TextQuality:
    """Count the real words of `text`: a page, or a whole file without pages.

    :param prose: False for tables and data files, whose cells may hold lone letters
        ("x", "b") as codes: short tokens are then not judged; glyph codes still are.

    Usage:
    ```python
    text_quality("Decem b er /1/9/9/5")               # TextQuality(words=2, tokens=7)
    (text_quality(page_1) + text_quality(page_2)).score
    ```
    """
    codes = len(_CID.findall(text)) + len(_BAD_CHARS.findall(text))
    lone = _lone_words(text) if prose else None
    tokens = _CID.sub(" ", _BAD_CHARS.sub(" ", text)).split()
    words = judged = 0
    for index, token in enumerate(tokens):
        if "://" in token or token.startswith("www."):
            continue  # a link, whatever its path holds ("/parts/1/9/9/4/")
        runs = _CODE_RUN.findall(token)
        if runs:
            codes += sum(run.count("/") for run in runs)
            token = _CODE_RUN.sub("", token)
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        verdict = _is_word(token, following, lone)
        if verdict is not None:
            judged += 1
            words += verdict
    return TextQuality(words=words, tokens=judged + codes)


def page_qualities(elements: list[Document]) -> dict[int | None, TextQuality]:
    """The counts of each page of a file's elements, by their `page_number` meta (None for
    elements without one); tables and data files are judged as such (see `text_quality`)."""
    texts: dict[tuple[int | None, bool], list[str]] = defaultdict(list)
    for element in elements:
        prose = (
            element.meta.get("category") != "Table"
            and element.meta.get("file_type") not in DATA_TYPES
        )
        texts[(element.meta.get("page_number"), prose)].append(element.content or "")
    pages: dict[int | None, TextQuality] = defaultdict(TextQuality)
    for (page, prose), parts in texts.items():
        pages[page] += text_quality("\n".join(parts), prose=prose)
    return dict(pages)


def _is_word(token: str, following: str, lone: frozenset[str] | None) -> bool | None:
    """Whether a token is a word; None when it is not judged (numbers, punctuation).

    `lone` holds the lone lowercase letters that are words; None where short tokens are not
    judged (tables). `following` is the next token, to tell a capital cut off its word.
    """
    if _ONE_CODE.fullmatch(token):
        return False
    core = token.strip(_EDGE)
    letters = sum(c.isalpha() for c in core)
    if not letters:
        return None
    if not core.isalpha():
        # Letters among digits or symbols: code, units, labels ("q2", "n=3", "don't").
        return True if letters > 1 else None
    if not all(_is_latin(c) for c in core):
        return True
    bases = "".join(unicodedata.normalize("NFD", c)[0] for c in core.lower())
    has_vowel = any(b in _VOWELS for b in bases)
    if len(core) <= _FRAGMENT_MAX and (lone is None or _CODE_MARKS.intersection(token)):
        # A table cell, or a name in code ("`q`", "(b)", "-rf"): not a fragment of prose.
        return True if has_vowel else None
    if len(core) <= _FRAGMENT_MAX and token == core + ".":
        return True  # an abbreviation or an initial: "p.", "pp.", "J."
    if len(core) == 1 and core.isupper():
        # "I", "A" and a capital before a name, a number or punctuation are words; one
        # before lowercase letters was cut off them ("T ec hnology", "P aid").
        return (
            has_vowel
            or bases in lone
            or token != core
            or not (following.isalpha() and following.islower())
        )
    if len(core) == 1:
        return bases in lone
    if has_vowel or not core.islower() or bases in _UNITS or bases in _CODE_WORDS:
        return True
    # Lowercase without a vowel: a fragment when short ("th", "wn"), garbage when long.
    return _FRAGMENT_MAX < len(core) < _NO_VOWEL_MAX


def _lone_words(text: str) -> frozenset[str]:
    """The lone lowercase letters that are words in the language of `text` (see above)."""
    if not _ACCENTED.search(text):
        return _ENGLISH_LONE
    return _SLAVIC_LONE if _SLAVIC.search(text) else _ACCENTED_LONE


def _is_latin(char: str) -> bool:
    return char < "\u0250" or "\u1e00" <= char <= "\u1eff"
