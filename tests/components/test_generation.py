"""ContextPacker and LlamaCppGenerator with the shipped Gemma 3 270M GGUF."""

import threading
import time

import pytest
from haystack import Document, Pipeline

from components import interruption
from components.errors import GenerationError
from components.generation.context_packer import ContextPacker
from components.generation.llama_cpp_generator import LlamaCppGenerator
from components.shipped_models import gguf_model_path
from tests.components.helpers import round_trip


@pytest.fixture(scope="module")
def gguf():
    return gguf_model_path("gemma-3-270m")


def passages(n):
    return [
        Document(
            id=str(i),
            content=f"Fact {i}. " + "This sentence fills the passage. " * 20,
            meta={"section": f"Section {i}"},
        )
        for i in range(n)
    ]


def test_packer_fills_the_window_best_first_and_numbers_what_it_packed(gguf):
    packer = ContextPacker(model_path=gguf, context_window=1024, max_new_tokens=64)
    result = packer.run(question="What is fact 0?", documents=passages(10))
    packed = result["documents"]
    assert 0 < len(packed) < 10
    assert [d.id for d in packed] == [str(i) for i in range(len(packed))]
    assert packer.count_tokens(result["prompt"]) <= 1024 - 64
    for number, document in enumerate(packed, start=1):
        assert f"[{number}] {document.meta['section']}\n" in result["prompt"]
    assert f"[{len(packed) + 1}] Section" not in result["prompt"]
    assert result["prompt"].endswith("Question: What is fact 0?\nAnswer:")


def test_packer_cuts_a_passage_too_long_for_the_window_at_a_sentence_end(gguf):
    packer = ContextPacker(model_path=gguf, context_window=1024, max_new_tokens=64)
    long = Document(id="long", content="Fact 0. " + "This sentence fills the passage. " * 200)
    result = packer.run(question="q", documents=[long, *passages(2)])
    assert [d.id for d in result["documents"]] == ["long"]
    context = result["prompt"].rsplit("\n\nQuestion:", 1)[0].rsplit("\nContext:\n", 1)[1]
    assert context.startswith("[1] ") and context.endswith("fills the passage.")
    assert len(context) < len(long.content)
    assert packer.count_tokens(result["prompt"]) <= 1024 - 64


def test_a_packer_given_its_generator_counts_with_the_generator_s_model(gguf):
    generator = LlamaCppGenerator(model_path=gguf, context_window=1024, max_new_tokens=64)
    packer = ContextPacker(
        model_path=None, context_window=1024, max_new_tokens=64, generator=generator
    )
    alone = ContextPacker(model_path=gguf, context_window=1024, max_new_tokens=64)
    text = "Passwords must be at least 14 characters long."
    assert packer.count_tokens(text) == alone.count_tokens(text) > 5
    assert packer._vocab is None and generator._llm is not None  # one model loaded, not two
    pipeline = Pipeline()
    pipeline.add_component("packer", packer)
    loaded = Pipeline.loads(
        pipeline.dumps(),
        allowed_modules=[ContextPacker.__module__, LlamaCppGenerator.__module__],
    )
    copy = loaded.get_component("packer")
    assert isinstance(copy.generator, LlamaCppGenerator)
    assert copy.generator.model_path == gguf and copy.context_window == 1024


def test_generator_answers_from_context_and_stops(gguf):
    generator = LlamaCppGenerator(model_path=gguf, max_new_tokens=32, stop=["\n"])
    prompt = (
        "Context: The museum opens at 9:00 and closes at 17:00.\n"
        "Question: When does the museum close?\nAnswer:"
    )
    result = generator.run(prompt=prompt)
    assert "17:00" in result["replies"][0] and "\n" not in result["replies"][0]
    meta = result["meta"][0]
    assert meta["prompt_tokens"] > 10 and meta["completion_tokens"] > 0
    assert round_trip(generator)[0].stop == ["\n"]
    pieces = []
    streamed = generator.run(prompt=prompt, streaming_callback=pieces.append)
    assert len(pieces) > 1 and "".join(pieces).strip() == result["replies"][0]
    assert streamed["replies"] == result["replies"]
    # Counted from the streamed text: the stop sequence's token is not in it.
    assert 0 <= meta["completion_tokens"] - streamed["meta"][0]["completion_tokens"] <= 1
    assert streamed["meta"][0]["prompt_tokens"] == meta["prompt_tokens"]


def test_generator_reports_a_missing_model_clearly(tmp_path):
    with pytest.raises(GenerationError, match="does not exist"):
        LlamaCppGenerator(model_path=str(tmp_path / "none.gguf")).warm_up()


def test_a_stop_request_ends_a_generation_between_two_tokens(gguf):
    """Ctrl-C during a long generation: no cut reply, and the next generation is whole."""
    generator = LlamaCppGenerator(model_path=gguf, context_window=2048, max_new_tokens=1500)
    prompt = "Count from one to one thousand: one, two, three,"
    generator.warm_up()
    timer = threading.Timer(0.5, interruption.request_stop)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(interruption.Interrupted):
            generator.run(prompt=prompt)
        assert time.monotonic() - started < 1.5
    finally:
        timer.cancel()
        interruption.clear_stop()
    generator.max_new_tokens = 8
    assert generator.run(prompt=prompt)["meta"][0]["completion_tokens"] == 8
