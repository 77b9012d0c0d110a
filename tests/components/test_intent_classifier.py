"""IntentClassifier with the shipped MiniLM, and load_examples with real files."""

import json

import pytest
from sentence_transformers import SentenceTransformer

from components.intent.examples import load_examples
from components.intent.intent_classifier import IntentClassifier
from components.shipped_models import embedding_model_path
from tests.components.helpers import round_trip

EXAMPLES = [
    ("I was charged twice this month", "billing"),
    ("How much does the premium plan cost?", "billing"),
    ("Can I get a refund for my subscription?", "billing"),
    ("Where do I find my invoices?", "billing"),
    ("Why is there an extra fee on my bill?", "billing"),
    ("I forgot my password", "account_access"),
    ("I can't log in to my account", "account_access"),
    ("My account is locked", "account_access"),
    ("How do I reset my password?", "account_access"),
    ("The sign-in code never arrives", "account_access"),
    ("The app crashes when I open it", "technical_problem"),
    ("Sync is not working between my devices", "technical_problem"),
    ("The page shows an error 500", "technical_problem"),
    ("The editor is very slow", "technical_problem"),
    ("Attachments fail to upload", "technical_problem"),
]


@pytest.fixture(scope="module")
def model():
    return embedding_model_path("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def classifier(model):
    classifier = IntentClassifier(model=model, examples=EXAMPLES)
    classifier.warm_up()
    return classifier


@pytest.fixture
def encoded(monkeypatch):
    """The lists of texts that any SentenceTransformer embeds, in order."""
    calls = []
    original = SentenceTransformer.encode

    def encode(self, sentences, *args, **kwargs):
        calls.append(list(sentences))
        return original(self, sentences, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", encode)
    return calls


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I got billed two times for the same month", "billing"),
        ("my login doesn't work anymore", "account_access"),
        ("the application keeps crashing on startup", "technical_problem"),
    ],
)
def test_paraphrases_get_their_intent_and_a_runner_up(classifier, text, intent):
    result = classifier.run(text=text)
    assert result["intent"] == intent
    assert 0 <= result["runner_up_confidence"] < result["confidence"] <= 1
    assert result["runner_up"] not in (None, intent)
    assert result["margin"] == pytest.approx(result["confidence"] - result["runner_up_confidence"])


def test_unrelated_text_is_out_of_scope_with_the_best_intent_as_runner_up(classifier):
    result = classifier.run(text="What is the boiling point of water at sea level?")
    assert result["intent"] == "out_of_scope"
    assert result["runner_up"] in {"billing", "account_access", "technical_problem"}
    assert result["confidence"] == pytest.approx(1 - result["runner_up_confidence"])
    assert result["runner_up_confidence"] < classifier.out_of_scope_threshold


def test_out_of_scope_examples_reject_what_they_show(model):
    examples = [*EXAMPLES, ("tell me a joke", "none"), ("sing me a funny song", "none")]
    classifier = IntentClassifier(
        model=model, examples=examples, out_of_scope_label="none", out_of_scope_threshold=None
    )
    result = classifier.run(text="tell me a funny joke")
    assert result["intent"] == "none"
    assert result["runner_up"] != "none"
    assert classifier.run(text="I forgot my password again")["intent"] == "account_access"


def test_batch_and_cross_validation_agree_with_run(classifier):
    texts = ["refund please", "password reset", "what is the weather like in Paris tomorrow"]
    for batched, text in zip(classifier.classify_batch(texts), texts, strict=True):
        alone = classifier.run(text=text)
        assert (batched["intent"], batched["runner_up"]) == (alone["intent"], alone["runner_up"])
        assert batched["confidence"] == pytest.approx(alone["confidence"], abs=1e-5)
    folds = classifier.cross_validate(folds=5)
    assert len(folds) == len(EXAMPLES)
    # Four examples an intent are few, so some are rejected; their runner-up is still right.
    best = [r["runner_up"] if r["intent"] == "out_of_scope" else r["intent"] for r in folds]
    assert sum(b == intent for b, (_, intent) in zip(best, EXAMPLES, strict=True)) >= 13


@pytest.mark.parametrize("method", ["centroid", "knn", "logreg"])
def test_other_methods_classify_too(model, method):
    classifier = IntentClassifier(model=model, examples=EXAMPLES, method=method, k=3)
    assert classifier.run(text="I can't sign in to my account")["intent"] == "account_access"


def test_cache_is_written_once_reused_and_refreshed_when_examples_change(model, tmp_path, encoded):
    first = IntentClassifier(model=model, examples=EXAMPLES, cache_dir=str(tmp_path))
    first.warm_up()
    files = sorted(tmp_path.iterdir())
    assert [f.name.split("-")[0] for f in files] == ["examples", "head"]
    assert encoded == [[text for text, _ in EXAMPLES]]
    written = {f: f.stat().st_mtime_ns for f in files}

    encoded.clear()
    second = IntentClassifier(model=model, examples=EXAMPLES, cache_dir=str(tmp_path))
    second.warm_up()
    assert encoded == []
    assert (second.embed_seconds, second.fit_seconds) == (0.0, 0.0)
    assert {f: f.stat().st_mtime_ns for f in tmp_path.iterdir()} == written
    query = "I was charged twice"
    assert second.run(text=query) == first.run(text=query)

    encoded.clear()
    changed = [*EXAMPLES, ("Please cancel my subscription", "billing")]
    third = IntentClassifier(model=model, examples=changed, cache_dir=str(tmp_path))
    third.warm_up()
    assert encoded == [[text for text, _ in changed]]
    assert len(list(tmp_path.iterdir())) == 4
    assert {f: f.stat().st_mtime_ns for f in files} == written


def test_load_examples_reads_csv_and_both_json_forms(tmp_path):
    intents = tmp_path / "intents.csv"
    intents.write_text('text,intent\nI was charged twice,billing\n"Hi, there",small_talk\n')
    assert load_examples(intents) == [
        ("I was charged twice", "billing"),
        ("Hi, there", "small_talk"),
    ]
    banking = tmp_path / "banking.csv"
    banking.write_text("text,category\nWhere is my card?,card_arrival\n")
    assert load_examples(banking) == [("Where is my card?", "card_arrival")]
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([["I was charged twice", "billing"]]))
    assert load_examples(pairs) == [("I was charged twice", "billing")]
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"billing": ["refund", "invoice"], "small_talk": ["hi"]}))
    assert load_examples(mapping) == [
        ("refund", "billing"),
        ("invoice", "billing"),
        ("hi", "small_talk"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "question,answer\nx,y\n", "header must be text,intent"),
        ("a.csv", "text,intent\nhello,\n", "line 2: the text or intent is empty"),
        ("a.csv", "text,intent\n", "no intent examples"),
        ("a.json", "{not json", "not valid JSON"),
        ("a.json", '[["only text"]]', "example 0 must be a pair"),
        ("a.json", '{"billing": "refund"}', "must map to a list of texts"),
        ("a.json", '"text"', "found a JSON str"),
        ("a.txt", "hello", "must be a .csv or .json file"),
    ],
)
def test_load_examples_names_the_file_and_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        load_examples(path)
    assert str(path) in str(error.value)


def test_load_examples_of_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="missing.csv: cannot read"):
        load_examples(tmp_path / "missing.csv")


def test_round_trip_keeps_the_settings(model):
    original = IntentClassifier(
        model=model, examples=EXAMPLES, method="knn", out_of_scope_threshold=0.2, k=3
    )
    restored, data = round_trip(original)
    assert data["init_parameters"]["examples"][0] == list(EXAMPLES[0])
    assert round_trip(restored)[1] == data
    assert (restored.method, restored.k, restored.out_of_scope_threshold) == ("knn", 3, 0.2)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"examples": [("hi", "greet"), ("hello", "greet")]}, "at least 2 intents"),
        ({"examples": [*EXAMPLES, ("  ", "billing")]}, r"examples\[15\] must be a pair"),
        ({"examples": [*EXAMPLES, ("text only",)]}, r"examples\[15\] must be a pair"),
        ({"out_of_scope_threshold": 1.5}, "out_of_scope_threshold must be in"),
        ({"method": "svm"}, "method must be one of"),
        ({"k": 0}, "k must be at least 1"),
        ({"knn_weight": 2}, "knn_weight must be in"),
        ({"regularization": 0}, "regularization must be above 0"),
    ],
)
def test_settings_are_checked_at_once(model, changes, message):
    with pytest.raises(ValueError, match=message):
        IntentClassifier(**{"model": model, "examples": EXAMPLES, **changes})
