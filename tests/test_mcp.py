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


SEARCH = ("Find the images of this collection that best match a text query. Returns: A list of results, best first. "
          "Each has: rank (offset+1 onwards); id (give it to similar for more like it); score (what the ranking used); "
          "dense_score (cosine similarity between the query and the image's description); lexical_score (0 to 1, how "
          "much of the query's wording the description or label holds, rare words weighing more; null in dense mode); "
          "matched (the query's words found in the description or label); band (\"strong\", \"fair\" or \"weak\": how "
          "well the image matches, judged against this collection; null where the collection is too small to judge; "
          "when every result is \"weak\", nothing here matches the query well); dataset; source; label; description; "
          "image (the picture; null when it could not be read).")
SIMILAR = ("More like this: the images whose descriptions are nearest to that of image `id`, that image left out. "
           "Returns: A list of results, best first, with the same fields as search. Here score and dense_score are "
           "the cosine similarity between the two descriptions, and band is judged against how alike this "
           "collection's own descriptions are.")
K = "how many results to return, a whole number from 1 to 20 (default 5)."


def test_the_tools_are_the_endpoints_that_work_on_this_set_described_for_an_agent(mcp_url):
    tools = asyncio.run(_session(mcp_url, lambda s: s.list_tools())).tools
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == {"search", "similar"}  # the demo cannot caption: search_by_image is not offered
    assert by_name["search"].description == SEARCH
    assert by_name["similar"].description == SIMILAR
    properties = by_name["search"].inputSchema["properties"]
    assert list(properties) == ["query", "k", "datasets", "mode", "labels", "offset"]
    assert properties["k"]["description"] == K and by_name["similar"].inputSchema["properties"]["k"]["description"] == K
    assert properties["offset"]["description"] == (
        "skip this many results, a whole number from 0 to 180: offset=k gives the next k of the same ranking; past "
        "the last result the answer is an error saying there are no more results.")
    assert by_name["similar"].inputSchema["properties"]["id"]["description"] == "the id of an image, as any search result gives it."
    assert by_name["similar"].inputSchema["required"] == ["id"]
    for tool in tools:  # written for an agent: no wrapped-line commas, no client library's names
        text = tool.description + " ".join(p.get("description", "") for p in tool.inputSchema["properties"].values())
        assert ",," not in text and " , " not in text and "gradio_client" not in text and "handle_file" not in text


def test_a_set_that_can_caption_also_offers_search_by_image_described_for_an_agent(tiny_captioner_path):
    config = AppConfig(port=free_port(), captioner=str(tiny_captioner_path))
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    try:
        tools = asyncio.run(_session(url.rstrip("/") + "/gradio_api/mcp/", lambda s: s.list_tools())).tools
    finally:
        blocks.close()
    tool = {tool.name: tool for tool in tools}["search_by_image"]
    assert tool.description.startswith(
        "Search with a picture: the collection's own captioner describes it, then that description is searched, "
        "refined by optional words.")
    assert tool.description.endswith(
        "Returns: An object with description (what the captioner saw in the picture), results (a list with the same "
        "fields as search) and nothing_matches_well (true when every result is a weak match).")
    properties = tool.inputSchema["properties"]
    assert properties["image"]["description"] == "the picture to search with (JPEG, PNG, WebP or GIF, at most 20 MB)."
    assert properties["words"]["description"].startswith('optional words that refine the search ("but red"')
    assert "handle_file" not in str(properties) and ",," not in tool.description


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
