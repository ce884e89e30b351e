"""The app's functions as MCP tools (`python app.py --mcp`, or SENSORIUM_MCP=1).

Gradio serves every public endpoint as an MCP tool over streamable HTTP at /gradio_api/mcp/. The
gradio_client endpoints (/translate …) take uploads, which gradio would fetch itself when an MCP
caller names them by URL; so the tools are their own endpoints (/mcp_translate …) whose image
arguments are strings read by `demo.url_fetch` (a public http(s) URL or a data: URI, capped like
uploads, never a server path), and `expose_tools` limits the MCP server to these four, from
`tools_lifespan`: in the server's startup, so that no client ever sees gradio's full tool list.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import gradio as gr
from PIL import Image

from sensorium.contact_sheet import contact_sheet

from . import handlers as h
from .inputs import MAX_STRENGTH, request_inputs, user_error
from .settings import Settings, file_size_bytes
from .state import MODEL, DemoState
from .url_fetch import FetchPolicy, Refused, image_bytes

TOOLS = ("translate", "extract", "random_styles", "info")  # MCP tool name -> endpoint /mcp_<name>
IMAGE_ARG = "a public http(s) URL of an image, or a data: URI (data:image/png;base64,...)"


def fetch_policy(settings: Settings) -> FetchPolicy:
    """URL fetches capped at the upload limit (`--max-file-size`)."""
    return FetchPolicy(max_bytes=file_size_bytes(settings.max_file_size))


def image_arg(policy: FetchPolicy, value, role: str, optional: bool = False) -> bytes | None:
    """The bytes behind an image argument; a refusal becomes the caller's error message."""
    if optional and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    try:
        return image_bytes(value, policy, role)
    except Refused as err:
        raise user_error(str(err)) from None


def strengths_arg(value) -> dict | None:
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise user_error('strengths must be a JSON object like {"edges": 0.5}.') from None
    if not isinstance(value, dict):
        raise user_error('strengths must be an object like {"edges": 0.5}.')
    return value


STRENGTHS_SCHEMA = {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": MAX_STRENGTH},
                    "description": 'sense name -> strength, e.g. {"edges": 0.5}'}  # fmt: skip


def typed(component: gr.Component, schema: dict) -> gr.Component:
    """`component` with a JSON schema of its own in the API (gr.JSON says only "any", which MCP
    clients reject as an invalid schema). Set on the instance: gradio writes a .pyi per subclass."""
    component.api_info = component.api_info_as_input = lambda: dict(schema)
    return component


def strip(items: h.Gallery, corner: str) -> Image.Image:
    """One image of (picture, caption) pairs side by side: an MCP reply carries images, not galleries."""
    return contact_sheet([], list(items), [], cell=192, corner=corner)


def mcp_endpoints(state: DemoState, policy: FetchPolicy, gpu=lambda fn, images=1: fn) -> None:
    """The four MCP tools as public endpoints /mcp_<tool> on hidden components (MCP reads their types
    from the components and their descriptions from the docstrings); `gpu` is demo.ui.gpu."""
    with gr.Group(visible=False):
        content, style = gr.Textbox(label="content"), gr.Textbox(label="style")
        style_b = gr.Textbox("", label="style_b")
        modalities, strengths, resolution, mix, domain, seed, n = request_inputs(
            state, "modalities", "strengths", "resolution", "mix", "domain", "seed", "n")
        strengths = typed(strengths, STRENGTHS_SCHEMA)
        image, status = gr.Image(type="pil", format="png", label="image"), gr.Textbox(label="status")
        about = gr.Textbox(label="info")

    def translate(content: str, style: str, modalities: list[str] | None = None, strengths: dict | None = None,
                  resolution: int | None = None, style_b: str = "", mix: float = 0.0, domain: int = 0):  # fmt: skip
        """Translate a content image into the style of a style image (Sensorium, ICCV 2021): the content's
        layout comes from sense maps (edges, person mask, face landmarks, ...), its look from the style.

        Args:
            content: the content image: what is where. Give a public http(s) URL of an image or a data: URI.
            style: the style image: how the result looks. A public http(s) URL or a data: URI.
            modalities: the senses to condition on (default: every one available here; see the info tool);
                an empty list conditions on none, so the result comes from the style alone.
            strengths: per-sense strength from 0 to 1.5, e.g. {"edges": 0.5}; unnamed senses use 1.
            resolution: long side of the output in pixels (limited by the server; see the info tool).
            style_b: an optional second style image (URL or data: URI) to blend towards.
            mix: 0 = only `style`, 1 = only `style_b`.
            domain: style head of a multi-domain checkpoint, by number (0 for most checkpoints).
        Returns:
            the translated image (PNG), and a status line with timings and notes.
        """
        c, s = image_arg(policy, content, "content image"), image_arg(policy, style, "style image")
        b = image_arg(policy, style_b, "second style image", optional=True)
        r = h.translate(state, c, s, modalities, strengths_arg(strengths), resolution, b, mix, domain)
        return r.image, r.status

    def extract(content: str, resolution: int | None = None):
        """Every sense map this server can extract from a content image (edges, person mask, face
        landmarks, ...), side by side in one image with captions.

        Args:
            content: the image to look at: a public http(s) URL of an image or a data: URI.
            resolution: long side in pixels at which the senses run (limited by the server).
        Returns:
            one image of the maps side by side, and a status line.
        """
        gallery, text = h.extract_maps(state, image_arg(policy, content, "content image"), resolution)
        return strip(gallery, "maps"), text

    def random_styles(content: str, modalities: list[str] | None = None, strengths: dict | None = None,
                      resolution: int | None = None, seed: int = 0, n: int = 4, domain: int = 0):  # fmt: skip
        """The same content under n style vectors sampled from the model (reproducible by seed): shows
        the range of looks the checkpoint learnt, without a style image.

        Args:
            content: the content image: a public http(s) URL of an image or a data: URI.
            modalities: the senses to condition on (default: every one available here; an empty list: none).
            strengths: per-sense strength from 0 to 1.5, e.g. {"edges": 0.5}.
            resolution: long side of each output in pixels (limited by the server).
            seed: random seed; the same seed gives the same styles.
            n: number of samples, 1 to 8.
            domain: style head of a multi-domain checkpoint, by number.
        Returns:
            one image of the n results side by side.
        """
        gallery = h.random_styles(state, image_arg(policy, content, "content image"), modalities,
                                  strengths_arg(strengths), resolution, seed, n, domain)  # fmt: skip
        return strip(gallery, f"seed {int(seed or 0)}")

    def info():
        """What this server runs: device, checkpoint, the resolution limit, and for every sense whether
        it is available here (and why not). Call it first to pick modalities and a resolution.

        Returns:
            a JSON object with device, checkpoint, max_resolution, resolutions and modalities.
        """
        return json.dumps(h.info(state), indent=1)

    common = dict(concurrency_id=MODEL)
    gr.on([], gpu(translate), [content, style, modalities, strengths, resolution, style_b, mix, domain],
          [image, status], api_name="mcp_translate", **common)  # fmt: skip
    gr.on([], gpu(extract), [content, resolution], [image, status], api_name="mcp_extract", **common)
    gr.on([], gpu(random_styles, images="n"), [content, modalities, strengths, resolution, seed, n, domain], image,
          api_name="mcp_random_styles", **common)  # fmt: skip
    gr.on([], info, None, about, api_name="mcp_info", queue=False)


def expose_tools(demo: gr.Blocks) -> None:
    """Limit the launched app's MCP server to the four tools above, under their plain names (gradio
    would otherwise also list the upload endpoints, whose URL arguments it fetches itself)."""
    server = getattr(demo, "mcp_server_obj", None)
    if server is None or getattr(server, "_sensorium_tools", False):
        return  # no MCP server, or limited already (a second start of the same server)
    server._sensorium_tools = True
    server.tool_to_endpoint = {server.tool_prefix + name: f"/mcp_{name}" for name in TOOLS}
    plain = server._execute_tool_without_progress

    async def every_output(job) -> list:
        # gradio 6.31 wraps a multi-output result (a tuple) as one output; unwrap it so the image
        # and the status line arrive as two MCP contents, as they do on its progress path.
        (result,) = await plain(job)
        return list(result) if isinstance(result, tuple) else [result]

    server._execute_tool_without_progress = every_output


@contextlib.asynccontextmanager
async def tools_lifespan(app) -> AsyncIterator[None]:
    """The launched app's lifespan (`launch(app_kwargs={"lifespan": ...})`): uvicorn runs it before it
    accepts a connection, after gradio has made its MCP server, so the tools are limited before any
    client can list them. (Limited after `launch()` returns, a client polling the port could list
    gradio's ten tools first, as a loaded CI machine once did.)"""
    expose_tools(app.get_blocks())
    yield
