"""training.prepare on the senses' device paths: the torch ports batched give the files mediapipe
gives (same keys, dtypes and shapes; maps within the ports' parity tolerance), and on a machine
without mediapipe (or gradio) it runs the ports and names the senses it cannot run, no crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sensorium.senses import SenseSet, parity
from sensorium.senses.mediapipe_ports import FACE_DETECTION_MODEL, FACE_LANDMARK_MODEL, SELFIE_MODEL, mediapipe_model
from sensorium.senses.registry import rank_providers, resolve
from training.prepare import main as prepare_main

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = [ROOT / "assets/examples" / f"content_{n}.jpg" for n in ("astronaut", "obama_portrait", "group_sofa")]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for path in PHOTOS:
        shutil.copy(path, folder / path.name)
    return folder


SENSES = ("person", "face_landmarks", "face_parsing", "face_depth", "edges")


def _prepare(photos: Path, out: Path, *extra: str) -> dict:
    return prepare_main([str(photos), "--out", str(out), "--resolution", "128", "--senses", ",".join(SENSES),
                         "--workers", "1", "--sense-device", "cpu", *extra])  # fmt: skip


def test_ports_batched_write_the_files_mediapipe_writes(photos, tmp_path, monkeypatch):
    """The forced port path (batch 3, then batch 1) against the mediapipe path on three real photos:
    the same files, keys, dtypes and shapes, the maps within the ports' parity tolerance."""
    mediapipe = _prepare(photos, tmp_path / "mediapipe")
    ported = [m for m in SENSES if m != "edges"]
    for m in ported:
        monkeypatch.setenv(f"SENSORIUM_{m.upper()}_PROVIDER", f"{mediapipe['senses'][m].split(' ')[0]}-torch")
    batched = _prepare(photos, tmp_path / "batched", "--sense-batch", "3")
    single = _prepare(photos, tmp_path / "single", "--sense-batch", "1")
    assert len(mediapipe["done"]) == len(batched["done"]) == len(single["done"]) == 3
    assert all(batched["senses"][m].endswith("-torch (batched on cpu)") for m in ported), batched["senses"]
    assert mediapipe["senses"]["person"] == "person-selfie"
    for path in PHOTOS:
        name = path.stem + ".npz"
        with np.load(tmp_path / "mediapipe" / name) as a, np.load(tmp_path / "batched" / name) as b, \
                np.load(tmp_path / "single" / name) as c:  # fmt: skip
            assert sorted(a.files) == sorted(b.files) == sorted(c.files)
            for key in a.files:  # uint8 arrays alike; strings (provider names, notes) as strings
                same_type = a[key].dtype == b[key].dtype if a[key].dtype.kind == "u" else b[key].dtype.kind == "U"
                assert same_type and a[key].shape == b[key].shape, key
            assert str(b["sense_person"]) == "person-selfie-torch" and str(a["sense_person"]) == "person-selfie"
            np.testing.assert_array_equal(a["image"], b["image"])
            for m in SENSES:  # edges: no port, so exactly equal
                ok, found = parity.agrees(m, a[f"map_{m}"], b[f"map_{m}"])
                assert ok, (name, m, found)
                # One batch or one image per call: the same networks on the same crops, up to rounding.
                assert np.abs(c[f"map_{m}"].astype(np.int32) - b[f"map_{m}"].astype(np.int32)).max() <= 1, (name, m)


def test_extract_batch_equals_extract_per_image(monkeypatch):
    monkeypatch.setenv("SENSORIUM_PERSON_PROVIDER", "person-selfie-torch")
    images = [Image.open(p).convert("RGB").resize((160, 160)) for p in PHOTOS[:2]]
    images.append(Image.open(PHOTOS[2]).convert("RGB").resize((200, 120)))  # another size: its own batch
    batched = SenseSet(["person", "edges"]).extract_batch(images, 96)
    one_by_one = [SenseSet(["person", "edges"]).extract(image, 96) for image in images]
    for a, b in zip(batched, one_by_one, strict=True):
        assert set(a) == set(b) == {"person", "edges"} and a["person"].found == b["person"].found
        assert (a["person"].tensor - b["person"].tensor).abs().max() <= 1e-5
        assert (a["edges"].tensor == b["edges"].tensor).all()


def test_the_chooser_treats_a_port_and_its_original_as_the_same_maps():
    """A checkpoint prepared on a GPU (person-selfie-torch maps) gets mediapipe's faster CPU sense
    here, and no "trained on other maps" warning; on CUDA the port still goes first."""
    assert resolve("person", prefer="person-selfie-torch")[0].name == "person-selfie"
    assert [p.name for p in rank_providers("person", "person-selfie-torch", "cuda")] == [
        "person-selfie-torch", "person-selfie"]  # fmt: skip
    senses = SenseSet(["person"], preferred={"person": "person-selfie-torch"})
    assert senses.sense("person").name == "person-selfie" and not senses.status()["person"].reason


def test_on_cuda_a_port_goes_before_its_original_not_before_other_senses():
    """Regression: every device provider went first on CUDA, so a GPU machine with the transformers
    face parser's weights got the mesh parsing instead; a port now only pre-empts what it ports."""
    assert [p.name for p in rank_providers("face_parsing", device="cuda")] == [
        "face-parsing-transformers", "face-parsing-mesh-torch", "face-parsing-mesh"]  # fmt: skip
    assert [p.name for p in rank_providers("face_parsing", "face-parsing-mesh", "cuda")][0] == "face-parsing-mesh-torch"
    assert [p.name for p in rank_providers("face_parsing")] == [
        "face-parsing-transformers", "face-parsing-mesh", "face-parsing-mesh-torch"]  # fmt: skip


def test_sense_device_cuda_without_cuda_is_a_clear_error(photos, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit):
        prepare_main([str(photos), "--out", str(tmp_path), "--sense-device", "cuda"])
    assert "no CUDA device" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        prepare_main([str(photos), "--out", str(tmp_path), "--sense-device", "gpu"])
    assert "is no device" in capsys.readouterr().err


BLOCKED = """
import json, sys
for name in ("mediapipe", "gradio"):
    sys.modules[name] = None  # `import mediapipe` / `import gradio` now fail, as on a machine without them
from training.prepare import main
report = main(sys.argv[1:])
loaded = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("mediapipe", "gradio")
                 and sys.modules[m] is not None})
print(json.dumps({"report": report, "loaded": loaded}))
"""


def test_prepare_without_mediapipe_or_gradio_runs_the_ports_and_names_what_cannot_run(photos, tmp_path):
    """The GPU machines' situation: no mediapipe, no gradio, only the .tflite files in a folder."""
    modules = tmp_path / "modules"
    for relative in (SELFIE_MODEL, FACE_DETECTION_MODEL, FACE_LANDMARK_MODEL):
        (modules / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(mediapipe_model(relative), modules / relative)
    out = tmp_path / "prepared"
    env = {**os.environ, "SENSORIUM_MEDIAPIPE_MODULES": str(modules), "OMP_NUM_THREADS": "1"}
    args = [str(photos), "--out", str(out), "--resolution", "128", "--senses", "person,pose,edges",
            "--workers", "1", "--sense-batch", "3"]  # fmt: skip
    run = subprocess.run([sys.executable, "-c", BLOCKED, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    report = result["report"]
    assert result["loaded"] == [] and len(report["done"]) == 3
    assert report["senses"]["person"].startswith("person-selfie-torch (batched on cpu)")
    assert report["senses"]["pose"].startswith("cannot run here") and "mediapipe" in report["senses"]["pose"]
    assert "pose: cannot run here" in run.stdout  # said before the run, not only in the files
    with np.load(out / "content_astronaut.npz") as f:
        assert f["map_person"].dtype == np.uint8 and f["map_person"].shape == (1, 128, 128)
        assert str(f["sense_person"]) == "person-selfie-torch" and "map_pose" not in f.files
        assert "mediapipe" in str(f["note_pose"])  # the file says why it has no pose map
    assert json.loads((out / "prepare_report.json").read_text())["senses"] == report["senses"]


GPU_PATH = """
import sys
for name in ("mediapipe", "gradio"):
    sys.modules[name] = None
import benchmarks.bench_prepare, benchmarks.gpu_checks, benchmarks.gpu_ports
from benchmarks.bench_ports import run
print(run(["cpu"], [1, 2], [64], budget_s=0.1))
"""


def test_the_gpu_scripts_ports_path_runs_without_mediapipe_or_gradio(tmp_path):
    """benchmarks/gpu.sh ports runs where neither is installed: its modules import, the port
    benchmark runs (here on the CPU, tiny), and the shell script parses."""
    from sensorium.senses.face_mesh_port import ATTENTION_MESH_MODEL

    modules = tmp_path / "modules"
    for relative in (SELFIE_MODEL, FACE_DETECTION_MODEL, FACE_LANDMARK_MODEL, ATTENTION_MESH_MODEL):
        (modules / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(mediapipe_model(relative), modules / relative)
    env = {**os.environ, "SENSORIUM_MEDIAPIPE_MODULES": str(modules), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", GPU_PATH], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and "64²" in line]
    assert len(rows) >= 3 and all(len(r.split("|")) == 6 for r in rows), run.stdout
    assert subprocess.run(["bash", "-n", str(ROOT / "benchmarks/gpu.sh")]).returncode == 0


def test_the_face_senses_share_one_mesh_per_image(monkeypatch):
    """Regression: a prepared image ran the face-mesh port once per face sense (three times) and the
    person port twice (person + face parsing); now each runs once, as mediapipe's graphs do."""
    from sensorium.senses import face_mesh_port, mediapipe_ports

    calls = {"mesh": [], "person": []}
    mesh_batch, person_forward = face_mesh_port.face_mesh_batch, mediapipe_ports.PersonNet.forward

    def counted_mesh(images, *args, **kwargs):
        calls["mesh"].append(len(images))
        return mesh_batch(images, *args, **kwargs)

    def counted_person(self, images, *args, **kwargs):
        calls["person"].append(images.shape[0])
        return person_forward(self, images, *args, **kwargs)

    monkeypatch.setattr(face_mesh_port, "face_mesh_batch", counted_mesh)
    monkeypatch.setattr(mediapipe_ports.PersonNet, "forward", counted_person)
    modalities = ["person", "face_landmarks", "face_depth", "face_parsing"]
    for m in modalities:
        monkeypatch.setenv(f"SENSORIUM_{m.upper()}_PROVIDER", f"{resolve(m)[0].name}-torch")
    images = [Image.open(p).convert("RGB").resize((128, 128)) for p in PHOTOS[:2]]
    maps = SenseSet(modalities).extract_batch(images, 128)
    assert all(set(m) == set(modalities) for m in maps)
    assert calls == {"mesh": [2], "person": [2]}
