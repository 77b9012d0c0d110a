"""The query pipeline: `QAPipeline` (pipeline.py) reads follow-ups, runs a Haystack Pipeline
(graph.py) over a request's `Turn` (turn.py), and masks and audits the answer. The Pipeline's
components: `IntentRoute` (intents.py) classifies and picks the route's branch; the rag branch
searches (`HybridSearch`, search.py), screens, and answers from the passages (`RagAnswer`,
rag.py, over `Answering`, answering.py, whose trace records citations, quotes and skipped
models: records.py); `DirectAnswer`, `Handoff` and `Reply` (routes.py) end the others."""
