"""docent's components in a plain Haystack Pipeline, as the README's example builds it."""

from pathlib import Path

from haystack import Pipeline

from components.embedding.backends import text_embedder
from components.embedding.bm25_sparse_text_embedder import Bm25SparseTextEmbedder
from components.generation.context_packer import ContextPacker
from components.generation.extractive_answer_builder import ExtractiveAnswerBuilder
from components.generation.llama_cpp_generator import LlamaCppGenerator
from components.generation.sentence_selector import SentenceSelector
from components.retrieval.edge_retrievers import EdgeHybridRetriever
from components.retrieval.relevance_filter import RelevanceFilter
from components.shipped_models import embedding_model_path, gguf_model_path
from tests.corpus import QUESTIONS


def extractive_pipeline(store) -> Pipeline:
    """Hybrid retrieval, the relevance floor, sentence selection, the shipped model picking a
    span, anchored in the documents: the README's example."""
    minilm = embedding_model_path("all-MiniLM-L6-v2")
    gemma = gguf_model_path("gemma-3-270m")
    pipe = Pipeline()
    pipe.add_component("embed", text_embedder(minilm, "onnx-int8"))
    pipe.add_component("sparse", Bm25SparseTextEmbedder())
    pipe.add_component(
        "retrieve", EdgeHybridRetriever(document_store=store, top_k=5, return_embedding=True)
    )
    pipe.add_component("relevant", RelevanceFilter(min_similarity=0.3))
    pipe.add_component("select", SentenceSelector(model=minilm, backend="onnx-int8"))
    pipe.add_component("pack", ContextPacker(model_path=gemma, context_window=2048))
    pipe.add_component("llm", LlamaCppGenerator(model_path=gemma, stop=["\n", "Question:"]))
    pipe.add_component("answer", ExtractiveAnswerBuilder())
    pipe.connect("embed.embedding", "retrieve.query_embedding")
    pipe.connect("sparse.sparse_embedding", "retrieve.query_sparse_embedding")
    pipe.connect("retrieve.documents", "relevant.documents")
    pipe.connect("embed.embedding", "relevant.query_embedding")
    pipe.connect("relevant.documents", "select.documents")
    pipe.connect("select.documents", "pack.documents")
    pipe.connect("pack.prompt", "llm.prompt")
    pipe.connect("llm.replies", "answer.replies")
    pipe.connect("pack.documents", "answer.documents")
    return pipe


def test_docent_components_answer_in_a_plain_haystack_pipeline(qa):
    pipe = extractive_pipeline(qa.store)
    pipe.warm_up()
    supported = 0
    for question, (fact, file_name) in QUESTIONS.items():
        result = pipe.run(
            {
                "embed": {"text": question},
                "sparse": {"text": question},
                "select": {"question": question},
                "pack": {"question": question, "style": "short"},
                "answer": {"query": question},
            },
            include_outputs_from={"relevant"},
        )
        relevant = result["relevant"]["documents"]
        assert Path(relevant[0].meta["source"]).name == file_name, question
        [answer] = result["answer"]["answers"]
        # Whatever the model picked, only the documents' words are given as the answer,
        # cited to a sentence of a relevant chunk; anything else is refused, citing nothing.
        if answer.meta["supported"]:
            supported += 1
            [cited] = answer.documents
            if answer.meta["method"] == "span":
                assert answer.meta["span"] in cited.content
            assert cited.meta["source"] in {d.meta["source"] for d in relevant}
        else:
            assert answer.documents == []
    assert supported, "the shipped model picks a right span for some of the corpus' questions"
