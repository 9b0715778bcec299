"""The Space as an MCP server: the `mcp` package's own client against the launched app over loopback."""

import asyncio

import pytest

import app
from imagesearch.serve.config import AppConfig
from testkit.ports import free_port


@pytest.fixture(scope="module")
def mcp_url():
    config = AppConfig(port=free_port())
    assert config.mcp_server  # on by default
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    yield url.rstrip("/") + "/gradio_api/mcp/"
    blocks.close()


async def _session(url, work):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


def test_the_tools_are_the_public_endpoints_described_by_their_docstrings(mcp_url):
    tools = asyncio.run(_session(mcp_url, lambda s: s.list_tools())).tools
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == {"search", "similar", "search_by_image"}
    assert by_name["search"].description.startswith("Top-k images for a text query")
    properties = by_name["search"].inputSchema["properties"]
    assert list(properties)[:5] == ["query", "k", "datasets", "mode", "labels"]
    assert "plain words" in properties["query"]["description"]
    assert "-word leaves out" in properties["query"]["description"] and "double quotes" in properties["query"]["description"]
    assert "offset=k gives the next k" in properties["offset"]["description"]
    assert "nothing in the" in by_name["search"].description.replace("\n", " ") or \
        "weak" in str(by_name["search"].outputSchema or "") or "weak" in by_name["search"].description
    assert "words" in by_name["search_by_image"].inputSchema["properties"]
    assert by_name["similar"].inputSchema["required"] == ["id"]


def test_an_agent_calls_the_text_search_and_gets_the_results(mcp_url):
    async def call(session):
        return await session.call_tool("search", {"query": "a cat with green eyes", "k": 3})

    result = asyncio.run(_session(mcp_url, call))
    assert not result.isError
    text = " ".join(part.text for part in result.content if getattr(part, "text", None))
    assert "chelsea" in text and "tabby cat" in text and text.count("'rank'") == 3


def test_the_mcp_server_can_be_switched_off():
    assert not AppConfig.from_env({"GRADIO_MCP_SERVER": "false"}).mcp_server
    assert AppConfig.from_env({}).mcp_server


def test_switched_off_the_mcp_endpoint_is_gone_not_only_configured_off():
    import httpx

    config = AppConfig(port=free_port(), mcp_server=False)
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            for path in ("/gradio_api/mcp/", "/gradio_api/mcp/sse", "/gradio_api/mcp/schema"):
                assert http.get(path).status_code == 404, path
            assert http.post("/gradio_api/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).status_code == 404
            assert http.get("/").status_code == 200  # the page itself is served
    finally:
        blocks.close()
