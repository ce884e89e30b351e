"""Sensorium demo: `python app.py [--checkpoint PATH_OR_HUB_ID] [--port N] [--host H] [--share]`.

Thin on purpose: flags/env → one shared pipeline → `build_demo` → queue → launch. The layout is
in demo/ui.py, the handlers in demo/handlers.py, the settings (and env vars) in demo/settings.py.
"""

# ruff: noqa: E402 (the lines under __main__ below have to run before gradio is imported)
from __future__ import annotations

import os
import sys
import threading

if __name__ == "__main__":  # a server has no notebook and no screen
    sys.modules.setdefault("IPython", None)  # gradio imports it, where installed, for notebook magics only (~0.5 s)
    os.environ.setdefault("MPLBACKEND", "agg")  # gradio asks matplotlib for its backend at every event; named,
    # that needs no matplotlib.pyplot, which mediapipe's import leaves unrun (sensorium/lazy_modules.py)

import torch

from demo.settings import Settings, StartupError, load_pipeline, parse_settings
from sensorium.cli.common import prepare_faster_runtime
from sensorium.runtime.allocator import limit_arenas


def serve(settings: Settings) -> int:
    """Load the pipeline, build the app and serve it until stopped; 2 when the pipeline cannot load."""
    if settings.malloc_arenas and not limit_arenas(settings.malloc_arenas):  # before gradio's threads start
        print(f"Note: the allocator did not take --malloc-arenas {settings.malloc_arenas} (not glibc?).", file=sys.stderr)
    from demo import app_builds  # gradio is imported here, after the __main__ block below has run
    from demo.ui import build_demo, launch_options, queue_options

    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        pipeline = load_pipeline(settings.checkpoint, settings.device, settings.runtime)
    except StartupError as err:
        print(f"Sensorium could not start.\n{err}", file=sys.stderr)
        return 2
    demo = build_demo(pipeline, settings)
    with app_builds.skipped():  # queue() would build a web app that launch() replaces: see demo/app_builds.py
        demo.queue(**queue_options(settings))
    demo.launch(**launch_options(settings), prevent_thread_lock=True)  # with --mcp, only our four tools
    # Answering already; meanwhile "auto" prepares the faster runtime it could not take at start-up
    # (the ONNX graphs: exported once, cached) and switches to it when it agrees with eager. A server
    # renders without end (renders=None); the note goes to the server log.
    threading.Thread(target=prepare_faster_runtime, args=(pipeline, None), name="sensorium-runtime-upgrade",
                     daemon=True).start()  # fmt: skip
    demo.block_thread()
    return 0


def main(argv: list[str] | None = None) -> int:
    return serve(parse_settings(argv))


if __name__ == "__main__":
    settings = parse_settings()
    if not settings.mcp:  # gradio imports the mcp package for its MCP server alone: ~0.2-0.6 s of the start
        sys.modules.setdefault("mcp", None)  # unimportable, as where gradio's mcp extra is not installed
    sys.exit(serve(settings))
