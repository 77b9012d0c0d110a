"""`docent mcp`: the knowledge base as MCP tools (`search`, `ask`) for agent front ends."""

import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from components.errors import DocentError
from pipelines.answer import passage
from pipelines.query.pipeline import QAPipeline

INSTRUCTIONS = (
    "Tools over a docent knowledge base. `search` returns the passages relevant to a question, "
    "with their sources; `ask` answers from the documents with numbered citations, or says "
    "that the documents do not say."
)


def create_mcp(open_pipeline: Callable[[], QAPipeline], tenant: str | None = None) -> Any:
    """An MCP server whose `search` and `ask` tools use the pipeline `open_pipeline` returns
    (opened and warmed when the server starts, closed when it stops).

    :param tenant: answer only from this tenant's documents (the whole server's tenant; a
        client cannot change it).
    """
    import anyio
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    state: dict[str, QAPipeline] = {}
    turn = threading.Lock()

    @asynccontextmanager
    async def lifespan(server: MCPServer):
        pipeline = open_pipeline()
        await anyio.to_thread.run_sync(pipeline.warm_up)
        state["pipeline"] = pipeline
        try:
            yield {}
        finally:
            pipeline.close()

    server = MCPServer("docent", instructions=INSTRUCTIONS, lifespan=lifespan)

    async def in_turn(work: Callable[[QAPipeline], Any]) -> Any:
        def locked() -> Any:
            with turn:
                return work(state["pipeline"])

        try:
            return await anyio.to_thread.run_sync(locked)
        except DocentError as e:
            raise ToolError(str(e)) from e

    @server.tool()
    async def search(question: str, top_k: int = 5) -> list[dict[str, Any]]:
        """The passages of the knowledge base relevant to `question`, best first: source,
        section, page, text and similarity (at most `top_k`, 1 to 20)."""
        if not 1 <= top_k <= 20:
            raise ToolError(f"top_k must be between 1 and 20 (got {top_k})")
        documents = await in_turn(lambda p: p.search(question, tenant=tenant))
        return [passage(d) for d in documents[:top_k]]

    @server.tool()
    async def ask(question: str) -> dict[str, Any]:
        """Answer `question` from the documents: the answer with [n] citation markers, the
        cited sources with snippets, and the decision ("pass": a verified answer; "abstain":
        the documents do not say)."""
        answer = await in_turn(lambda p: p.ask(question, tenant=tenant))
        return {
            "answer": answer.answer,
            "decision": answer.decision,
            "citations": [
                {"number": c.number, "source": c.source, "section": c.section, "snippet": c.snippet}
                for c in answer.citations
            ],
            "trace_id": answer.trace_id,
        }

    return server
