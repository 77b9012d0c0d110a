"""The installed environment is the offline, CPU-only one the lock promises."""

import importlib.metadata

import components  # noqa: F401


def test_torch_is_the_cpu_build():
    import torch

    assert torch.version.cuda is None
    assert importlib.metadata.version("torch").startswith("2.13.0")


def test_ragas_imports_with_its_working_pins():
    import ragas

    assert ragas.__version__.startswith("0.4.3")
    assert importlib.metadata.version("instructor") == "1.17.0"
    assert importlib.metadata.version("langchain-community") == "0.4.1"


def test_spacy_english_model_loads_by_name_without_a_download():
    import spacy

    nlp = spacy.load("en_core_web_sm", exclude=["ner", "lemmatizer"])
    assert [s.text for s in nlp("It works. Offline too.").sents] == ["It works.", "Offline too."]


def test_offline_and_telemetry_switches_are_set():
    import os

    for name in ("HF_HUB_OFFLINE", "DO_NOT_TRACK", "UNSTRUCTURED_DISABLE_NOTICE"):
        assert os.environ[name] in {"1", "true"}
    assert os.environ["HAYSTACK_TELEMETRY_ENABLED"] == "False"
    assert os.environ["RAGAS_DO_NOT_TRACK"] == "true"
