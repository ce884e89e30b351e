"""Inference runtimes: every fast runtime gives eager's images (fp32 within 1e-4) on the bundled
checkpoint and on tiny models of every architecture switch; a runtime that cannot run or that
disagrees falls back to eager with a note; style-only changes reuse the content's state."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.bundled import demo_checkpoint
from sensorium.config import tiny_config
from sensorium.model import Sensorium
from sensorium.pipeline import TranslationPipeline
from sensorium.runtime import RUNTIME_ENV, RuntimeChoiceError, runtime_name
from sensorium.runtime.allocator import keep_freed_memory
from sensorium.runtime.onnx_export import ABANDONED_AFTER_S, CACHE_ENV, PARTIAL_PREFIX, cached_graphs, model_key
from sensorium.runtime.select import BUILDERS, PARITY_ATOL, faster_runtime, load_runtime, parity_gap
from sensorium.senses import SenseSet
from tests.app_fixtures import CONTENT, STYLE, STYLE_B

FAST = [name for name in BUILDERS if name != "eager"]


def jittered(config, seed: int = 0) -> Sensorium:
    """A random model whose zero-initialised style and fusion convs are non-zero, so every path counts."""
    torch.manual_seed(seed)
    model = Sensorium(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module", autouse=True)
def graph_cache(tmp_path_factory):
    """Exported ONNX graphs go to a fresh folder, not the user's cache: every test here starts cold."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("graphs")))
        yield


@pytest.fixture(scope="module")
def bundled() -> Sensorium:
    return Sensorium.from_pretrained(demo_checkpoint())


def images(runtime, maps, presence, styles) -> torch.Tensor:
    with torch.inference_mode():
        return runtime.generate(runtime.encode(maps, presence), styles)


@pytest.mark.parametrize("name", FAST)
def test_fast_runtimes_match_eager_on_the_bundled_checkpoint(bundled, name):
    torch.manual_seed(1)
    cfg = bundled.config
    maps = torch.rand(1, cfg.map_channels, 64, 128)
    presence = torch.tensor([[0, 0, 1, 1, 1, 0, 1, 1.0]])  # partly absent: the stem's folded masking
    styles = bundled.sample_styles(3, generator=torch.Generator().manual_seed(2))
    eager, fast = BUILDERS["eager"](bundled), BUILDERS[name](bundled)
    want = images(eager, maps, presence, styles)
    got = images(fast, maps, presence, styles)  # three styles: the batched (unfolded) modulation
    one = images(fast, maps, presence, styles[1:2])  # one style: modulation folded into the weights
    assert (got - want).abs().max() <= PARITY_ATOL
    assert (one - want[1:2]).abs().max() <= PARITY_ATOL


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("switch", [{}, {"use_fusion": False}, {"use_skips": False}, {"modulation": "adain"},
                                    {"modulation": "none"}, {"num_scales": 2, "max_channels": 8}])  # fmt: skip
def test_fast_runtimes_match_eager_on_every_architecture_switch(name, switch):
    model = jittered(tiny_config(**switch))
    assert parity_gap(BUILDERS[name](model), model) <= PARITY_ATOL


def test_auto_picks_a_fast_runtime_and_style_changes_reuse_the_content(bundled):
    senses = SenseSet(bundled.config.modalities, preferred=dict(bundled.info.senses))
    fast = TranslationPipeline(bundled, senses=senses, device="cpu", runtime="auto")
    eager = TranslationPipeline(bundled, senses=senses, device="cpu", runtime="eager")
    assert fast.runtime.name in FAST and fast.runtime_note == ""
    content, style, other = (Image.open(p).convert("RGB") for p in (CONTENT, STYLE, STYLE_B))
    sensed = fast.sense(content, 64)
    for s in (style, other):  # the second style reuses the first's content state
        vec = fast.style(s, 64)
        (a,), (b,) = fast.render(sensed, vec, ["edges", "pose"]), eager.render(sensed, vec, ["edges", "pose"])
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 1  # uint8 rounding only
    assert fast._contents.hits == 1
    fast.render(sensed, vec, ["edges"])  # another subset is another content
    assert fast._contents.hits == 1


def test_a_runtime_that_cannot_run_falls_back_to_eager_with_a_note():
    model = jittered(tiny_config())
    model.content_encoder.down[0].downsample = False  # a variant the fused rewrite does not cover
    runtime, note = load_runtime(model, "auto")
    assert runtime.name == "eager"
    assert "fused could not run" in note and "fused-cl could not run" in note and "downsample" in note
    assert "onnx could not run" in note


def test_auto_takes_onnx_only_once_its_graphs_are_cached():
    model = jittered(tiny_config(), seed=1)  # weights no other test exported
    runtime, note = load_runtime(model, "auto")
    assert runtime.name == "fused" and note == ""  # cold cache: auto does not export at start-up
    runtime, note = load_runtime(model, "onnx")  # the named runtime exports, and the cache keeps it
    assert runtime.name == "onnx" and note == "" and runtime.graphs.export_seconds > 0
    runtime, note = load_runtime(model, "auto")
    assert runtime.name == "onnx" and note == "" and runtime.graphs.export_seconds == 0
    assert model_key(jittered(tiny_config(), seed=2)) != model_key(model)  # other weights, other graphs


def test_auto_switches_to_onnx_once_exported_while_requests_keep_running(bundled, monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))  # a cold cache: the bundled graphs are not exported here yet
    senses = SenseSet(bundled.config.modalities, preferred=dict(bundled.info.senses))
    pipe = TranslationPipeline(bundled, senses=senses, device="cpu", runtime="auto")
    eager = TranslationPipeline(bundled, senses=senses, device="cpu", runtime="eager")
    assert pipe.runtime.name == "fused"  # auto never exports at load
    sensed = pipe.sense(Image.open(CONTENT).convert("RGB"), 64)
    vec = pipe.style(Image.open(STYLE).convert("RGB"), 64)
    (want,) = eager.render(sensed, vec, ["edges", "pose"])
    notes: list[str] = []
    upgrade = threading.Thread(target=lambda: notes.append(pipe.upgrade_runtime()))
    upgrade.start()
    served, deadline = [], time.monotonic() + 300
    while (upgrade.is_alive() or not served or served[-1] != "onnx") and time.monotonic() < deadline:
        served.append(pipe.runtime.name)  # requests during the switch and after it
        (got,) = pipe.render(sensed, vec, ["edges", "pose"])
        assert np.abs(np.asarray(got, dtype=int) - np.asarray(want, dtype=int)).max() <= 1
        assert upgrade.is_alive() or pipe.runtime.name == "onnx", notes  # a failed upgrade ends the loop
    assert "fused" in served and served[-1] == "onnx" and notes[0].startswith("Runtime: onnx from now on")
    assert pipe.upgrade_runtime() == ""  # nothing is ahead of onnx
    fixed = TranslationPipeline(bundled, senses=senses, device="cpu", runtime="fused")  # named: kept as asked
    assert fixed.upgrade_runtime() == "" and fixed.runtime.name == "fused"


def test_a_request_finishes_on_the_runtime_it_started_on_when_the_pipeline_switches(bundled):
    senses = SenseSet(bundled.config.modalities, preferred=dict(bundled.info.senses))
    pipe = TranslationPipeline(bundled, senses=senses, device="cpu", runtime="fused")
    sensed = pipe.sense(Image.open(CONTENT).convert("RGB"), 64)
    vec = pipe.style(Image.open(STYLE).convert("RGB"), 64)
    fused, eager = pipe.runtime, BUILDERS["eager"](bundled)
    encode = fused.encode

    def encode_then_switch(maps, presence):  # the switch lands between this request's encode and generate
        state = encode(maps, presence)
        pipe.runtime = eager
        return state

    fused.encode = encode_then_switch
    for render in (lambda: pipe.render(sensed, vec, ["edges", "pose"]),
                   lambda: pipe.render_subsets(sensed, vec, [["edges"], ["pose"]])):  # fmt: skip
        pipe.runtime = fused
        got = render()  # fused's state must reach fused's generate, not eager's
        assert got and pipe.runtime is eager
        assert pipe.runtime_in_use() == "fused"  # what this request's status line names


def test_an_export_sweeps_what_a_killed_export_left_and_spares_one_in_progress(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    abandoned, running = tmp_path / "onnx" / f"{PARTIAL_PREFIX}abandoned", tmp_path / "onnx" / f"{PARTIAL_PREFIX}running"
    for folder in (abandoned, running):
        folder.mkdir(parents=True)
        (folder / "encode.onnx").write_bytes(b"half a graph")
    stale = time.time() - 2 * ABANDONED_AFTER_S
    os.utime(abandoned, (stale, stale))
    graphs = cached_graphs(jittered(tiny_config(), seed=11))
    assert graphs.export_seconds > 0 and not abandoned.exists() and running.exists()
    assert not [p for p in (tmp_path / "onnx").iterdir() if p.name.startswith(PARTIAL_PREFIX) and p != running]
    graphs.generate.unlink()  # a graph lost from the cache (a cleaner, a full disk): exported again
    again = cached_graphs(jittered(tiny_config(), seed=11))
    assert again.export_seconds > 0 and again.encode.is_file() and again.generate.is_file()


def test_a_missing_onnxruntime_falls_back_with_a_note(monkeypatch):
    model = jittered(tiny_config())
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what `import onnxruntime` meets where it is absent
    runtime, note = load_runtime(model, "onnx")
    assert runtime.name == "eager" and "onnx could not run (ModuleNotFoundError" in note
    runtime, note = load_runtime(model, "auto")
    assert runtime.name == "fused" and note == ""
    assert faster_runtime(model, runtime) == (None, "Runtime: still fused, because onnx could not run "
                                              "(ModuleNotFoundError: import of onnxruntime halted; None in sys.modules).")  # fmt: skip


def test_onnx_graphs_serve_every_size_and_style_changes_reuse_the_content(bundled):
    senses = SenseSet(bundled.config.modalities, preferred=dict(bundled.info.senses))
    fast = TranslationPipeline(bundled, senses=senses, device="cpu", runtime="onnx")
    eager = TranslationPipeline(bundled, senses=senses, device="cpu", runtime="eager")
    assert fast.runtime.name == "onnx" and fast.runtime_note == ""
    content, style, other = (Image.open(p).convert("RGB") for p in (CONTENT, STYLE, STYLE_B))
    for resolution in (64, 96):  # two sizes (and aspects) through the one exported pair of graphs
        sensed = fast.sense(content, resolution)
        for s in (style, other):
            vec = fast.style(s, resolution)
            (a,), (b,) = fast.render(sensed, vec, ["edges", "pose"]), eager.render(sensed, vec, ["edges", "pose"])
            assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 1
    assert fast._contents.hits == 2  # each second style ran only the style graph


def test_a_runtime_that_disagrees_falls_back_to_eager_with_a_note():
    model = jittered(tiny_config())
    runtime, note = load_runtime(model, "fused", atol=0.0)  # fp32 reordering differs in the last bits
    assert runtime.name == "eager" and "fused disagreed with eager" in note
    runtime, note = load_runtime(model, "fused")
    assert runtime.name == "fused" and note == ""


def test_runtime_names_and_the_environment(monkeypatch):
    monkeypatch.setenv(RUNTIME_ENV, "Eager")
    assert runtime_name(None) == "eager" and runtime_name("fused") == "fused"
    monkeypatch.delenv(RUNTIME_ENV)
    assert runtime_name(None) == "auto"
    with pytest.raises(RuntimeChoiceError, match="fused-cl"):
        runtime_name("onnx-magic")
    model = jittered(tiny_config())
    monkeypatch.setenv(RUNTIME_ENV, "eager")
    assert TranslationPipeline(model, device="cpu").runtime.name == "eager"


def test_the_allocator_setting_is_taken_and_changes_no_pixel(bundled):
    torch.manual_seed(3)
    maps, presence = torch.rand(1, bundled.config.map_channels, 64, 64), torch.ones(1, 8)
    style = bundled.sample_styles(1)
    fast = BUILDERS["fused"](bundled)
    assert keep_freed_memory(False)
    before = images(fast, maps, presence, style)
    assert keep_freed_memory(True)
    assert torch.equal(images(fast, maps, presence, style), before)


def test_runtimes_and_mediapipe_senses_share_one_process_and_pip_check_is_clean():
    """The dependency set: onnx (torch's exporter) and onnxruntime import beside mediapipe (onnx
    1.23+ would need protobuf 6, which breaks it), a graph is exported and run, then every mediapipe
    sense runs in the same process, and pip finds no conflict."""
    code = """
import io, onnx, onnxruntime, torch, mediapipe, google.protobuf as pb
import sensorium.runtime.select
from sensorium.senses import SenseSet
from tests.senses_fixtures import astronaut
f = io.BytesIO()
torch.onnx.export(torch.nn.Conv2d(1, 2, 3, padding=1), (torch.ones(1, 1, 4, 4),), f, dynamo=False, input_names=["x"])
onnx.checker.check_model(onnx.load_from_string(f.getvalue()))
out = onnxruntime.InferenceSession(f.getvalue()).run(None, {"x": torch.ones(1, 1, 4, 4).numpy()})[0]
assert out.shape == (1, 2, 4, 4)
senses = ["pose", "person", "face_landmarks", "face_parsing"]
maps = SenseSet(senses).extract(astronaut(), 64)
assert all(maps[s].found for s in senses), {s: maps[s].found for s in senses}
print(pb.__version__, onnx.__version__, onnxruntime.__version__)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[0].startswith("4."), run.stdout  # protobuf 4: mediapipe 0.10.21's
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout[-2000:]


def test_fused_runtimes_off_the_cpu_fall_back_to_eager():
    with torch.device("meta"):  # any non-CPU device: the CUDA pipeline's bf16 autocast is eager's
        model = Sensorium(tiny_config())
    runtime, note = load_runtime(model, "fused-cl")
    assert runtime.name == "eager" and "fused-cl runs on the CPU only" in note
    runtime, note = load_runtime(model, "auto")
    assert runtime.name == "eager" and note == ""
