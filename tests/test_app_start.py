"""What the app's start-up imports and runs (not how long it takes; benchmarks/bench_app.py times it).

Each check runs in a fresh interpreter, since this test process has imported much more already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Pulled in at start-up only by accident: torch builds a model on the meta device with Python
# reference ops that import these (~3 s on 2 CPU cores), and nothing the app does needs them.
NOT_AT_START = ("torch._dynamo", "sympy", "torch.fx.experimental.symbolic_shapes")


def fresh_python(code: str, *args: str) -> dict:
    """Run `code` (which prints one JSON line last) in a new interpreter at the repo root."""
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "SENSORIUM_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_loading_the_bundled_checkpoint_does_not_import_the_compiler_stack():
    got = fresh_python(
        "import json, sys\n"
        "import app\n"
        "from demo.settings import DEFAULT_CHECKPOINT, load_pipeline\n"
        "pipe = load_pipeline(str(DEFAULT_CHECKPOINT))\n"
        f"print(json.dumps({{'runtime': pipe.runtime.name, 'loaded': [m for m in {NOT_AT_START!r} if m in sys.modules]}}))"
    )
    assert got["loaded"] == []
    assert got["runtime"] != "eager"  # the fast runtime (built and parity-checked at load) is still there


def test_resolving_the_senses_leaves_matplotlib_pyplot_unrun():
    got = fresh_python(
        "import json, sys\n"
        "import app\n"
        "from demo.settings import DEFAULT_CHECKPOINT, load_pipeline\n"
        "from sensorium.lazy_modules import is_deferred\n"
        "status = load_pipeline(str(DEFAULT_CHECKPOINT)).senses.status()\n"
        "print(json.dumps({'mediapipe': 'mediapipe' in sys.modules, 'deferred': is_deferred('matplotlib.pyplot'), "
        "'tasks': is_deferred('mediapipe.tasks.python'), 'ok': sorted(m for m, a in status.items() if a)}))"
    )
    assert got["ok"], "no sense can run: the check below would say nothing"
    assert got["mediapipe"] and got["deferred"]  # mediapipe was imported for its senses, pyplot was not run
    assert got["tasks"]  # nor its Tasks API (audio, vision, text)


def test_a_deferred_module_still_works_when_used():
    got = fresh_python(
        "import json, sys\n"
        "from sensorium.lazy_modules import defer, is_deferred\n"
        "first = defer('matplotlib.pyplot')\n"
        "import matplotlib.pyplot as plt\n"
        "from matplotlib import pyplot\n"
        "before = is_deferred('matplotlib.pyplot')\n"
        "fig = plt.figure(); fig.add_subplot().plot([0, 1]); from matplotlib.pyplot import close; close(fig)\n"
        "print(json.dumps({'first': first, 'again': defer('matplotlib.pyplot'), 'before': before, "
        "'after': is_deferred('matplotlib.pyplot'), 'same': pyplot is plt, 'real': type(sys.modules['matplotlib.pyplot']).__name__}))"
    )
    assert got == {"first": True, "again": False, "before": True, "after": False, "same": True, "real": "module"}


@pytest.mark.parametrize("first_use", ["attribute", "submodule import"])
def test_a_subpackage_deferred_on_import_still_works_when_used(first_use):
    use = ("vision = mediapipe.tasks.vision" if first_use == "attribute"
           else "from mediapipe.tasks.python import vision")  # fmt: skip
    got = fresh_python(
        "import json, sys\n"
        "from sensorium.lazy_modules import defer_on_import, is_deferred\n"
        "first = defer_on_import('mediapipe.tasks.python')\n"
        "import mediapipe\n"
        "before = is_deferred('mediapipe.tasks.python')\n"
        f"{use}\n"
        "print(json.dumps({'first': first, 'before': before, 'after': is_deferred('mediapipe.tasks.python'), "
        "'landmarker': vision.FaceLandmarker.__name__, 'same': mediapipe.tasks.vision is vision, "
        "'again': defer_on_import('mediapipe.tasks.python'), 'real': type(sys.modules['mediapipe.tasks.python']).__name__}))"
    )
    assert got == {"first": True, "before": True, "after": False, "landmarker": "FaceLandmarker", "same": True,
                   "again": False, "real": "module"}  # fmt: skip


def test_gradio_is_imported_without_rewriting_its_type_stubs():
    got = fresh_python(
        "import json, sys\n"
        "import app, gradio\n"
        "from demo import gradio_stubs\n"
        "print(json.dumps({'skipped': gradio_stubs.skipped(), 'blocks': hasattr(gradio, 'Blocks')}))"
    )
    assert got == {"skipped": True, "blocks": True}


def test_the_stub_skipper_does_nothing_once_gradio_is_imported():
    got = fresh_python(
        "import json, sys\n"
        "import gradio\n"
        "from demo import gradio_stubs\n"
        "print(json.dumps({'skipped': gradio_stubs.skipped(), 'hooks': sum(isinstance(f, gradio_stubs._StubSkipper) "
        "for f in sys.meta_path)}))"
    )
    assert got == {"skipped": False, "hooks": 0}


def test_the_web_app_is_built_once_at_launch_and_serves(tmp_path):
    import urllib.request

    from gradio.routes import App

    from demo import app_builds
    from demo.settings import Settings
    from demo.ui import build_demo, launch_options, queue_options
    from tests.app_fixtures import free_port, tiny_pipeline

    real, builds = App.__dict__["create_app"], []

    def counted(*args, **kwargs):
        builds.append(kwargs.get("mcp_server"))
        return real.__func__(*args, **kwargs)

    App.create_app = staticmethod(counted)
    try:
        settings = Settings(checkpoint=str(tmp_path), port=free_port())
        demo = build_demo(tiny_pipeline(tmp_path / "ckpt"), settings)
        with app_builds.skipped():  # as app.py does
            demo.queue(**queue_options(settings))
        assert builds == [] and demo.app is None
        _, url, _ = demo.launch(**launch_options(settings), prevent_thread_lock=True, quiet=True)
        try:
            info = json.loads(urllib.request.urlopen(f"{url}gradio_api/info", timeout=30).read())
        finally:
            demo.close()
    finally:
        App.create_app = real
    assert len(builds) == 1 and "/translate" in info["named_endpoints"]
    assert App.__dict__["create_app"] is real


@pytest.mark.parametrize("mcp", [False, True])
def test_app_py_as_a_script_imports_gradio_without_ipython_or_unused_mcp_and_events_leave_pyplot_unrun(mcp):
    # a checkpoint that does not exist: app.py runs as a server would up to loading it, then exits 2
    argv = ["app.py", "--checkpoint", "no/such/checkpoint", *(["--mcp"] if mcp else [])]
    got = fresh_python(
        "import contextlib, io, json, os, runpy, sys\n"
        "os.environ.pop('MPLBACKEND', None); os.environ.pop('SENSORIUM_MCP', None)\n"
        f"sys.argv = {argv!r}\n"
        "code = None\n"
        "with contextlib.redirect_stderr(io.StringIO()) as err:\n"
        "    try:\n"
        "        runpy.run_path('app.py', run_name='__main__')\n"
        "    except SystemExit as stop:\n"
        "        code = stop.code\n"
        "from gradio.utils import MatplotlibBackendMananger\n"
        "from sensorium.lazy_modules import defer, is_deferred\n"
        "defer('matplotlib.pyplot')  # as mediapipe's import leaves it\n"
        "with MatplotlibBackendMananger():  # what gradio wraps every event in\n"
        "    pass\n"
        "mcp = sys.modules.get('mcp', 'absent')\n"
        "print(json.dumps({'exit': code, 'said': 'Sensorium could not start' in err.getvalue(), "
        "'gradio': 'gradio' in sys.modules, 'ipython': repr(sys.modules.get('IPython', 'absent')), "
        "'mcp': 'blocked' if mcp is None else type(mcp).__name__, 'pyplot_unrun': is_deferred('matplotlib.pyplot')}))"
    )
    assert got == {"exit": 2, "said": True, "gradio": True, "ipython": "None", "mcp": "module" if mcp else "blocked",
                   "pyplot_unrun": True}  # fmt: skip


def test_pandas_waits_until_gradio_analyses_a_finished_request(tmp_path):
    got = fresh_python(
        "import json, sys, time\n"
        "import app\n"
        "from sensorium.lazy_modules import is_deferred\n"
        "from gradio_client import Client\n"
        "from tests.app_fixtures import launch_app\n"
        "demo, url = launch_app(__import__('pathlib').Path(sys.argv[-1]))\n"
        "at_start = is_deferred('pandas')\n"
        "info = Client(url, verbose=False).predict(api_name='/info')\n"
        "deadline = time.monotonic() + 60\n"
        "while is_deferred('pandas') and time.monotonic() < deadline:\n"
        "    time.sleep(0.2)\n"
        "time.sleep(1)\n"
        "summary = demo._queue.cached_event_analytics_summary\n"
        "demo.close()\n"
        "print(json.dumps({'at_start': at_start, 'answered': bool(info), 'after': is_deferred('pandas'), "
        "'pandas': type(sys.modules['pandas']).__name__, 'analysed': sorted(summary.get('functions', {}))}))",
        str(tmp_path / "ckpt"),
    )
    assert got["at_start"] and got["answered"]  # ~1 s of `import gradio` not spent before the first answer
    assert not got["after"] and got["pandas"] == "module" and got["analysed"]  # gradio's analytics still run


def test_app_py_exports_the_onnx_graphs_itself_and_then_serves_on_onnx(tmp_path):
    """A cold cache (a new Space's first start): app.py exports the graphs once it is answering (its
    start does not wait for them), says so in its log and serves on onnx from then on."""
    import threading

    from gradio_client import Client

    from tests.app_fixtures import free_port, tiny_model

    tiny_model().save_pretrained(tmp_path / "ckpt")
    port = free_port()
    env = {**os.environ, "SENSORIUM_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "SENSORIUM_CACHE_DIR": str(tmp_path / "cache"), "SENSORIUM_RUNTIME": "auto"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "app.py", "--checkpoint", str(tmp_path / "ckpt"), "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()  # a full pipe would block the app

    def said() -> str | None:
        return next((line for line in log if line.startswith("Runtime: ")), None)

    try:
        deadline = time.monotonic() + 180
        while said() is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert said() is not None and said().startswith("Runtime: onnx from now on"), (said(), "".join(log)[-2000:])
        assert list(tmp_path.glob("cache/onnx/*/generate.onnx"))  # in the cache the next start loads from
        assert Client(f"http://127.0.0.1:{port}/", verbose=False).predict(api_name="/info")["runtime"] == "onnx"
    finally:
        proc.terminate()
        proc.wait(30)
