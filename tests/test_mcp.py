"""The app as an MCP server, driven by the real `mcp` client over streamable HTTP on loopback."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import time

import pytest
from PIL import Image

from tests.app_fixtures import CONTENT, ROOT, STYLE, free_port, launch_app, tiny_model, torch_threads

mcp = pytest.importorskip("mcp")
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

TOOLS = {"translate", "extract", "random_styles", "info"}


def data_uri(path) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()


def session_run(url: str, work):
    """Run `await work(session)` in a fresh MCP session against the app at `url`."""

    async def main():
        endpoint = url.rstrip("/") + "/gradio_api/mcp/"
        async with streamable_http_client(endpoint) as (read, write, _), mcp.ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)

    return asyncio.run(main())


def images_of(result) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(c.data))) for c in result.content if c.type == "image"]


def texts_of(result) -> list[str]:
    return [c.text for c in result.content if c.type == "text"]


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """(url, the MCP tool names as launch() returned, before any request could change them)."""
    with torch_threads(1):
        demo, url = launch_app(tmp_path_factory.mktemp("mcp") / "ckpt", mcp=True, max_file_size="2mb")
        yield url, set(demo.mcp_server_obj.tool_to_endpoint), demo
        demo.close()


@pytest.fixture(scope="module")
def app(launched):
    return launched[0]


def test_the_tools_are_limited_before_the_server_takes_a_request(launched):
    # launch() returns once the server listens; a client polling the port may ask before the next line runs
    assert launched[1] == TOOLS


def test_limiting_the_tools_again_changes_nothing(launched):
    from demo.mcp_tools import expose_tools

    url, _, demo = launched
    expose_tools(demo)  # as a second start of the same server would
    result = session_run(url, lambda s: s.call_tool("extract", {"content": data_uri(CONTENT)}))
    assert not result.isError and len(images_of(result)) == 1 and texts_of(result)


def test_the_four_tools_are_listed_with_typed_documented_parameters(app):
    tools = session_run(app, lambda s: s.list_tools()).tools
    assert {t.name for t in tools} == TOOLS  # the upload endpoints (/translate …) are not MCP tools
    translate = next(t for t in tools if t.name == "translate")
    props = translate.inputSchema["properties"]
    assert translate.inputSchema["required"] == ["content", "style"]
    assert props["content"]["type"] == "string" and "public http(s) URL" in props["content"]["description"]
    assert props["modalities"]["type"] == "array" and "edges" in props["modalities"]["items"]["enum"]
    assert props["strengths"]["type"] == "object"
    assert props["resolution"]["type"] == "integer" and props["mix"]["type"] == "number"
    assert all(p.get("description") for p in props.values())
    assert "style image" in translate.description


def test_translate_returns_an_image(app):
    args = {"content": data_uri(CONTENT), "style": data_uri(STYLE), "resolution": 64,
            "modalities": ["edges", "person"], "strengths": {"edges": 0.5}}  # fmt: skip
    result = session_run(app, lambda s: s.call_tool("translate", args))
    assert not result.isError, texts_of(result)
    (image,) = images_of(result)
    assert image.format == "PNG" and max(image.size) == 64
    assert any("px" in t and "generator" in t for t in texts_of(result))  # the status line


def test_extract_random_styles_and_info(app):
    async def work(session):
        return (await session.call_tool("extract", {"content": data_uri(CONTENT), "resolution": 64}),
                await session.call_tool("random_styles", {"content": data_uri(CONTENT), "resolution": 64, "n": 2}),
                await session.call_tool("info", {}))  # fmt: skip

    extract, samples, info = session_run(app, work)
    assert not extract.isError and len(images_of(extract)) == 1
    assert not samples.isError and len(images_of(samples)) == 1
    about = json.loads(texts_of(info)[0])
    assert about["max_resolution"] == 256 and about["modalities"]["depth"]["available"] is False


@pytest.mark.parametrize(
    "content, message",
    [
        ("/etc/passwd", "reads no server files"),
        (str(CONTENT), "reads no server files"),
        ("file:///etc/passwd", "file:// URL"),
        ("http://127.0.0.1:7860/gradio_api/file=/etc/passwd", "port 7860"),
        ("http://127.0.0.1/cat.jpg", "not a public address"),
        ("http://localhost/cat.jpg", "not a public address"),
        ("http://10.0.0.1/cat.jpg", "not a public address"),
        ("http://169.254.169.254/latest/meta-data/", "not a public address"),
        ("http://[::1]/cat.jpg", "not a public address"),
        ("data:text/plain;base64,aGVsbG8=", "not an image"),
        ("data:image/png;base64," + "A" * (3 << 20), "larger than the 2 MB limit"),
    ],
)
def test_image_arguments_other_than_public_urls_or_data_are_refused_clearly(app, content, message):
    result = session_run(app, lambda s: s.call_tool("translate", {"content": content, "style": data_uri(STYLE)}))
    assert result.isError
    assert message in " ".join(texts_of(result)) and "content image" in " ".join(texts_of(result))


def test_the_mcp_flag_and_env_switch():
    from demo.settings import parse_settings

    assert parse_settings(["--mcp"], {}).mcp and parse_settings([], {"SENSORIUM_MCP": "1"}).mcp
    assert not parse_settings([], {}).mcp


def test_the_readme_agent_snippet_runs_against_the_app(app, tmp_path):
    import re

    text = (ROOT / "README.md").read_text()
    code = re.search(r"## From an agent: MCP.*?```python\n(.*?)```", text, re.S).group(1)
    code = code.replace("http://127.0.0.1:7860/", app).replace('"translated.png"', repr(str(tmp_path / "t.png")))
    cwd = os.getcwd()
    os.chdir(ROOT)  # the snippet's example paths are relative to the checkout
    try:
        exec(compile(code, "README agent snippet", "exec"), {})
    finally:
        os.chdir(cwd)
    assert Image.open(tmp_path / "t.png").size[0] > 0


def test_app_py_with_sensorium_mcp_answers_tools_list(tmp_path):
    tiny_model().save_pretrained(tmp_path / "ckpt")
    port = free_port()
    env = {**os.environ, "SENSORIUM_MCP": "1", "SENSORIUM_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "SENSORIUM_CACHE_DIR": str(tmp_path / "cache")}  # the graphs it exports once answering stay in tmp  # fmt: skip
    proc = subprocess.Popen([sys.executable, "app.py", "--checkpoint", str(tmp_path / "ckpt"), "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        url, deadline, names = f"http://127.0.0.1:{port}/", time.monotonic() + 120, None
        while names is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                names = {t.name for t in session_run(url, lambda s: s.list_tools()).tools}
            except Exception:
                time.sleep(1)
        assert names == TOOLS, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else names
    finally:
        proc.terminate()
        proc.wait(30)
