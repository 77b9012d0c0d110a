"""`docent mcp` over stdio and streamable HTTP, driven by the official MCP client."""

import os
import subprocess
import time

import anyio
import httpx
import pytest

from tests.cli import DOCENT
from tests.servers import free_port

FAQ = "# Shipping\n\nOrders ship from the Rotterdam warehouse within two working days.\n"


@pytest.fixture(scope="module")
def mcp_env(tmp_path_factory):
    """An environment whose data directory holds one ingested page."""
    from pipelines.config import Settings

    root = tmp_path_factory.mktemp("mcp")
    (root / "docs").mkdir()
    (root / "docs" / "shipping.md").write_text(FAQ)
    indexer = Settings(data_dir=root / "data").open_indexer()
    try:
        indexer.ingest([root / "docs"])
    finally:
        indexer.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCENT_")}
    return {**env, "DOCENT_DATA_DIR": str(root / "data")}


async def use_tools(client):
    tools = await client.list_tools()
    assert {t.name for t in tools.tools} == {"search", "ask"}
    found = await client.call_tool("search", {"question": "Where do orders ship from?"})
    passages = found.structured_content["result"]
    # Named relative to the folder it was ingested from: no server path reaches the client.
    assert passages[0]["source"] == "docs/shipping.md" and "Rotterdam" in passages[0]["text"]
    answered = await client.call_tool("ask", {"question": "Which warehouse do orders ship from?"})
    answer = answered.structured_content
    assert answer["decision"] == "pass" and "Rotterdam" in answer["answer"]
    assert answer["citations"][0]["source"] == "docs/shipping.md"
    refused = await client.call_tool("search", {"question": "x", "top_k": 99})
    assert refused.is_error and "top_k must be between 1 and 20" in refused.content[0].text


def test_the_tools_over_stdio(mcp_env):
    from mcp.client.client import Client
    from mcp.client.stdio import StdioServerParameters

    async def main():
        params = StdioServerParameters(command=str(DOCENT), args=["mcp"], env=mcp_env)
        async with Client(params, read_timeout_seconds=120) as client:
            await use_tools(client)

    anyio.run(main)


def test_the_tools_over_streamable_http(mcp_env, tmp_path):
    from mcp.client.client import Client

    port = free_port()
    log = open(tmp_path / "mcp.log", "wb")
    server = subprocess.Popen(
        [str(DOCENT), "mcp", "--http", "--port", str(port)],
        env=mcp_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)

        async def main():
            async with Client(url, read_timeout_seconds=120) as client:
                await use_tools(client)

        anyio.run(main)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_http_off_loopback_is_refused(mcp_env):
    result = subprocess.run(
        [str(DOCENT), "mcp", "--http", "--host", "0.0.0.0"],
        env=mcp_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "loopback" in result.stderr
