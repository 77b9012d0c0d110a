"""FileParser on real Markdown, HTML and reStructuredText files: where chunks start and end,
and the section each one carries."""

import pytest

from components.shipped_models import embedding_model_path
from ingest.config import ChunkingSettings, ParsingSettings
from ingest.parsing import FileParser
from pipelines.config import Settings

HANDBOOK_MD = """# Barista Handbook

Welcome to the Orbital bar team.

## Espresso

Dose 18 grams and extract 36 grams in 28 seconds.

Set the grinder with:

```bash
grinder --set 3
    --confirm
```

### Milk

Steam milk to 60 degrees Celsius; hotter milk tastes flat.

## Closing

Backflush the group heads with detergent every evening.
"""

HANDBOOK_HTML = """<html><body>
<h1>Barista Handbook</h1>
<p>Welcome to the Orbital bar team.</p>
<h2>Espresso</h2>
<p>Dose 18 grams and extract 36 grams in 28 seconds.</p>
<h3>Milk</h3>
<p>Steam milk to 60 degrees Celsius; hotter milk tastes flat.</p>
<h2>Closing</h2>
<p>Backflush the group heads with detergent every evening.</p>
</body></html>
"""

HANDBOOK_RST = """Barista Handbook
================

Welcome to the Orbital bar team.

Espresso
--------

Dose 18 grams and extract 36 grams in 28 seconds.

Milk
~~~~

Steam milk to 60 degrees Celsius; hotter milk tastes flat.

Closing
-------

Backflush the group heads with detergent every evening.
"""

SECTIONS = [
    ("Barista Handbook", "Welcome to the Orbital bar team."),
    ("Barista Handbook > Espresso", "Dose 18 grams and extract 36 grams in 28 seconds."),
    (
        "Barista Handbook > Espresso > Milk",
        "Steam milk to 60 degrees Celsius; hotter milk tastes flat.",
    ),
    ("Barista Handbook > Closing", "Backflush the group heads with detergent every evening."),
]


def parser(markup: str = "structure", max_tokens: int = 200) -> FileParser:
    return FileParser(
        parsing=ParsingSettings(markup=markup),
        chunking=ChunkingSettings(max_tokens=max_tokens, overlap_tokens=8),
        tokenizer=embedding_model_path("all-MiniLM-L6-v2"),
    )


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("handbook.md", HANDBOOK_MD),
        ("handbook.html", HANDBOOK_HTML),
        ("handbook.rst", HANDBOOK_RST),
    ],
)
def test_every_heading_starts_a_chunk_that_carries_its_section_path(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    parsed = parser()(tmp_path / name)
    assert parsed.reason == "" and parsed.converter == "markup"
    chunks = [(c.meta["section"], c.content) for c in parsed.chunks]
    assert len(chunks) == len(SECTIONS)
    for (section, content), (expected_section, body) in zip(chunks, SECTIONS, strict=True):
        assert section == expected_section
        # A chunk opens with its heading and holds that section's text alone.
        assert content.startswith(expected_section.rsplit(" > ", 1)[-1] + "\n" + body)
    assert [c.meta["chunk_index"] for c in parsed.chunks] == [0, 1, 2, 3]


def test_a_code_block_stays_in_its_section_with_its_lines_and_indentation(tmp_path):
    (tmp_path / "handbook.md").write_text(HANDBOOK_MD)
    espresso = parser()(tmp_path / "handbook.md").chunks[1]
    assert espresso.content == (
        "Espresso\nDose 18 grams and extract 36 grams in 28 seconds.\nSet the grinder with:\n"
        "grinder --set 3\n    --confirm"
    )
    assert "```" not in espresso.content


def test_a_long_section_is_cut_within_the_budget_and_keeps_its_section(tmp_path):
    paragraphs = [
        f"Shift {n} opens the bar at {6 + n % 3} in the morning and checks the grinder." * 3
        for n in range(12)
    ]
    (tmp_path / "shifts.md").write_text("# Rota\n\n## Shifts\n\n" + "\n\n".join(paragraphs))
    chunks = parser(max_tokens=64)(tmp_path / "shifts.md").chunks
    assert len(chunks) > 3
    assert {c.meta["section"] for c in chunks} == {"Rota > Shifts"}
    assert all(c.meta["tokens"] <= 64 for c in chunks)
    # Every paragraph is in some chunk, whole or as sentences.
    text = " ".join(c.content for c in chunks)
    assert all(
        sentence.strip() in text for p in paragraphs for sentence in p.split(".") if sentence
    )


def test_unstructured_gives_the_same_chunks_for_markup_it_reads_alike(tmp_path):
    (tmp_path / "handbook.md").write_text(HANDBOOK_MD)
    ours = parser()(tmp_path / "handbook.md")
    theirs = parser("unstructured")(tmp_path / "handbook.md")
    assert theirs.converter == "unstructured"
    assert [(c.id, c.meta) for c in ours.chunks] == [(c.id, c.meta) for c in theirs.chunks]


def test_switching_the_markup_parser_reingests_the_files(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.md").write_text(HANDBOOK_MD)
    runs = [("structure", "ingested"), ("structure", "unchanged"), ("unstructured", "ingested")]
    for markup, status in runs:
        settings = Settings(data_dir=tmp_path / "data", parsing={"markup": markup})
        indexer = settings.open_indexer()
        try:
            report = indexer.ingest([docs])
        finally:
            indexer.close()
        assert [f.status for f in report.files] == [status], markup


def test_the_setting_is_checked():
    with pytest.raises(ValueError, match="markup"):
        ParsingSettings(markup="spacy")
    assert ParsingSettings().markup == "structure"


CODE_BEFORE_HEADING = {
    "notes.md": '# Migration\n\nThe output was:\n\n```\n{"a":{"None":123}}\nValidators\n```\n\n'
    "## Changes to validators\n\nValidators now run after parsing.\n",
    "notes.rst": 'Migration\n=========\n\nThe output was::\n\n    {"a":{"None":123}}\n'
    "    Validators\n\nChanges to validators\n---------------------\n\n"
    "Validators now run after parsing.\n",
    "notes.html": '<h1>Migration</h1><p>The output was:</p><pre><code>{"a":{"None":123}}\n'
    "Validators</code></pre><h2>Changes to validators</h2><p>Validators now run after parsing.</p>",
}


@pytest.mark.parametrize("name", sorted(CODE_BEFORE_HEADING))
def test_section_titles_never_come_from_code_lines(tmp_path, name):
    (tmp_path / name).write_text(CODE_BEFORE_HEADING[name])
    sections = [c.meta["section"] for c in parser()(tmp_path / name).chunks]
    assert sections[-1] == "Migration > Changes to validators"
    assert not any("{" in s or s.endswith("> Validators") for s in sections), sections
