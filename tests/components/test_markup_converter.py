"""MarkupConverter on real Markdown, HTML, reStructuredText and plain text files."""

from components.converters.markup_converter import MarkupConverter
from components.converters.unstructured_converter import UnstructuredConverter
from tests.components.helpers import round_trip

GUIDE_MD = """# Grinder Guide { #grinder-guide }

The **Orbital Mill** grinds `2 g` per second.

## Cleaning

Brush the burrs weekly:

```console
$ mill --clean
    --burrs both
```

* Unplug the mill.
* Remove the hopper.

| Setting | Use |
|---------|-----|
| 3 | espresso |

![Exploded view of the mill](mill.png)

### Burrs

Replace them every 500 kilograms.
"""

MANUAL_HTML = """<!DOCTYPE html>
<html><head><title>Not text</title><style>p {color: red}</style></head>
<body>
<nav><a href="/">Home</a> | <a href="/shop">Shop</a></nav>
<h1>Grinder Manual</h1>
<p>The <b>Orbital Mill</b> grinds 2 grams per second.<script>track("x")</script></p>
<div>Text directly in a div.<p>A paragraph inside it.</p>And text after it.</div>
<h2>Cleaning</h2>
<pre><code>mill --clean
    --burrs both
</code></pre>
<ul><li>Unplug the mill.<ul><li>Wait a minute.</li></ul></li><li><p>Remove the hopper.</p></li></ul>
<table><caption>Grind settings</caption><tr><th>Setting</th><th>Use</th></tr>
<tr><td>3</td><td>espresso</td></tr></table>
</body></html>
"""

ROASTING_RST = """Roasting Guide
==============

Orbital roasts every Tuesday in Rotterdam.

Light roasts
------------

Light roasts keep the fruit notes of the bean.

* First crack at 196 degrees.
* Drop the beans a minute later.

Run the profile tool::

    roast --profile light
        --minutes 9

Storage
-------

Keep beans in an airtight tin, away from light.
"""

NOTES_TXT = """Store Opening Hours

The Rotterdam store opens at 8 in the morning on weekdays and at 9 on
Saturdays. It is closed on Sundays.

Holidays
The store closes early on the 24th and the 31st of December.

- Bring your own cup for a discount.
- Loyalty cards are accepted.
"""


def elements(path):
    result = MarkupConverter().run(sources=[path])
    assert result["failures"] == []
    return result["documents"]


def outline(documents):
    return [(d.meta["category"], d.meta.get("title_depth"), d.content) for d in documents]


def test_markdown_headings_code_lists_tables_and_images(tmp_path):
    (tmp_path / "guide.md").write_text(GUIDE_MD)
    assert outline(elements(tmp_path / "guide.md")) == [
        ("Title", 0, "Grinder Guide"),
        ("NarrativeText", None, "The Orbital Mill grinds 2 g per second."),
        ("Title", 1, "Cleaning"),
        ("NarrativeText", None, "Brush the burrs weekly:"),
        # The code block's lines as written, without the fence markers.
        ("CodeSnippet", None, "$ mill --clean\n    --burrs both"),
        ("ListItem", None, "Unplug the mill."),
        ("ListItem", None, "Remove the hopper."),
        ("Table", None, "Setting Use 3 espresso"),
        ("Image", None, "Exploded view of the mill"),
        ("Title", 2, "Burrs"),
        ("NarrativeText", None, "Replace them every 500 kilograms."),
    ]


def test_elements_carry_what_the_chunker_reads(tmp_path):
    (tmp_path / "guide.md").write_text(GUIDE_MD)
    documents = elements(tmp_path / "guide.md")
    assert {d.meta["source"] for d in documents} == {str(tmp_path / "guide.md")}
    assert {d.meta["file_type"] for d in documents} == {"md"}
    indexes = [d.meta["element_index"] for d in documents]
    assert indexes == sorted(set(indexes))
    assert all("title_depth" not in d.meta for d in documents if d.meta["category"] != "Title")


def test_html_blocks_lists_tables_and_what_is_not_text(tmp_path):
    (tmp_path / "manual.html").write_text(MANUAL_HTML)
    assert outline(elements(tmp_path / "manual.html")) == [
        ("Title", 0, "Grinder Manual"),
        ("NarrativeText", None, "The Orbital Mill grinds 2 grams per second."),
        ("NarrativeText", None, "Text directly in a div."),
        ("NarrativeText", None, "A paragraph inside it."),
        ("NarrativeText", None, "And text after it."),
        ("Title", 1, "Cleaning"),
        ("CodeSnippet", None, "mill --clean\n    --burrs both"),
        ("ListItem", None, "Unplug the mill."),
        ("ListItem", None, "Wait a minute."),
        ("ListItem", None, "Remove the hopper."),
        ("Table", None, "Grind settings Setting Use 3 espresso"),
    ]


def test_restructuredtext_sections_lists_and_literal_blocks(tmp_path):
    (tmp_path / "roasting.rst").write_text(ROASTING_RST)
    assert outline(elements(tmp_path / "roasting.rst")) == [
        ("Title", 0, "Roasting Guide"),
        ("NarrativeText", None, "Orbital roasts every Tuesday in Rotterdam."),
        ("Title", 1, "Light roasts"),
        ("NarrativeText", None, "Light roasts keep the fruit notes of the bean."),
        ("ListItem", None, "First crack at 196 degrees."),
        ("ListItem", None, "Drop the beans a minute later."),
        ("NarrativeText", None, "Run the profile tool:"),
        ("CodeSnippet", None, "roast --profile light\n    --minutes 9"),
        ("Title", 1, "Storage"),
        ("NarrativeText", None, "Keep beans in an airtight tin, away from light."),
    ]


def test_plain_text_paragraphs_titles_and_bullets(tmp_path):
    (tmp_path / "notes.txt").write_text(NOTES_TXT)
    assert outline(elements(tmp_path / "notes.txt")) == [
        ("Title", 0, "Store Opening Hours"),
        (
            "NarrativeText",
            None,
            "The Rotterdam store opens at 8 in the morning on weekdays and at 9 on Saturdays. "
            "It is closed on Sundays.",
        ),
        # A block of lines that is not all short is one paragraph.
        (
            "NarrativeText",
            None,
            "Holidays The store closes early on the 24th and the 31st of December.",
        ),
        ("ListItem", None, "Bring your own cup for a discount."),
        ("ListItem", None, "Loyalty cards are accepted."),
    ]


def test_wrapped_lines_of_plain_text_are_not_titles(tmp_path):
    # Under a tenth of the lines blank: every line is an element, and a short one inside a
    # sentence stays text.
    lines = [
        "Chapter One",
        "The roastery opened in a former",
        "Warehouse by the harbour in 1998, and",
        "it has roasted there ever since.",
        "Every bag is packed by hand.",
    ] * 3
    (tmp_path / "history.txt").write_text("\n".join(lines) + "\n")
    titles = [
        d.content for d in elements(tmp_path / "history.txt") if d.meta["category"] == "Title"
    ]
    assert titles == ["Chapter One"] * 3


def test_utf16_text_without_a_byte_order_mark_is_decoded(tmp_path):
    (tmp_path / "notes.txt").write_bytes(NOTES_TXT.encode("utf-16-le"))
    assert elements(tmp_path / "notes.txt")[0].content == "Store Opening Hours"


def test_same_elements_as_unstructured_for_markdown_html_and_rst(tmp_path):
    """Only unstructured's guess of each paragraph's kind differs (NarrativeText or
    UncategorizedText); titles, their depths and every text are the same."""
    (tmp_path / "guide.md").write_text(GUIDE_MD)
    (tmp_path / "manual.html").write_text(MANUAL_HTML)
    (tmp_path / "roasting.rst").write_text(ROASTING_RST)
    for name in ("guide.md", "manual.html", "roasting.rst"):
        ours = elements(tmp_path / name)
        theirs = UnstructuredConverter().run(sources=[tmp_path / name])["documents"]

        def shape(documents):
            return [
                (d.meta["category"] == "Title", d.meta.get("title_depth"), d.content)
                for d in documents
            ]

        assert shape(ours) == shape(theirs), name


def test_files_that_cannot_be_read_fail_with_a_reason(tmp_path):
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "blank.html").write_text("<html><body>  </body></html>")
    (tmp_path / "slides.pptx").write_bytes(b"PK")
    result = MarkupConverter().run(sources=sorted(tmp_path.iterdir()))
    assert result["documents"] == []
    kinds = {f["source"].rsplit("/", 1)[1]: f["kind"] for f in result["failures"]}
    assert kinds == {"empty.md": "empty", "blank.html": "no_text", "slides.pptx": "parse_error"}


def test_round_trip():
    restored, data = round_trip(MarkupConverter())
    assert data["init_parameters"] == {} and isinstance(restored, MarkupConverter)
