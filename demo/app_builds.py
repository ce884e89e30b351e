"""Build gradio's web app once, at launch, not also in `Blocks()` and at the end of its `with` block.

gradio 6 builds a FastAPI app (~80 routes, pydantic models for each) when a Blocks is created
(through its default queue) and again when its `with` block ends, and throws both away: `queue()`
and `launch()` each build a new one, and only `launch()`'s is served. The three first builds are
~0.4 s of the app's start on a 2-core CPU. Inside `skipped()` (around the Blocks in `build_demo`,
and around `queue()` in app.py) they return None instead: `demo.app` is None until `launch()`.
With `mcp_server=False`, how gradio makes those calls, a build has no effect on the Blocks
itself (it only wires the app it returns), so nothing else changes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_lock = threading.Lock()


@contextlib.contextmanager
def skipped() -> Iterator[None]:
    """Within the block, `App.create_app(blocks, mcp_server=False)` with no other arguments (the
    calls of `Blocks.__init__` and `Blocks.__exit__`) builds nothing; every other call is real."""
    from gradio.routes import App

    with _lock:
        real = App.__dict__["create_app"]
        build = real.__func__ if isinstance(real, staticmethod) else real

        def create_app(blocks, *args, **kwargs):
            if not args and kwargs == {"mcp_server": False}:
                return None
            return build(blocks, *args, **kwargs)

        App.create_app = staticmethod(create_app)
        try:
            yield
        finally:
            App.create_app = real
