"""The query pipeline: `QAPipeline` (pipeline.py) classifies a request's intent (intents.py)
and follows its route; the rag route (rag.py) searches (search.py), screens and answers from the
passages (answering.py), whose trace records citations, quotes and skipped models
(records.py)."""
