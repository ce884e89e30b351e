"""The face-mesh senses through the torch port against the mediapipe senses, on real photos (CPU):
face landmarks, face parsing (mesh) and face depth (mesh) give the same maps within a small,
stated tolerance, batched or not, and run where mediapipe is not installed."""

from __future__ import annotations

import sys

import pytest
import torch
from PIL import Image

from sensorium.senses import model_cache, parity
from sensorium.senses.face_mesh_geometry import connections
from sensorium.senses.registry import SENSE_CLASSES, resolve
from tests.test_tflite_ports import EXAMPLES

PAIRS = (("face_landmarks", "face-landmarks-mesh"), ("face_parsing", "face-parsing-mesh"),
         ("face_depth", "face-depth-mesh"))  # fmt: skip


TOLERANCES = {"face_landmarks": parity.FACE_LANDMARKS, "face_parsing": parity.FACE_PARSING,
              "face_depth": parity.FACE_DEPTH}  # fmt: skip


def assert_same_map(modality: str, want: torch.Tensor, got: torch.Tensor, where: str) -> None:
    """Within sensorium.senses.parity's tolerance (mean |Δ| and IoU at 0.5); parsing labels also
    differ on <= 0.5% of the pixels (measured: <= 0.17%, on person-mask and region edges)."""
    found = parity.agreement(want.numpy(), got.numpy())
    assert found.within(TOLERANCES[modality]), f"{where}: {found}"
    if modality == "face_parsing":
        changed = float((got.argmax(0) != want.argmax(0)).float().mean())
        assert changed <= 0.005, f"{where}: {changed:.4%} of the pixels change label"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name[:40])
@pytest.mark.parametrize(("modality", "original"), PAIRS)
def test_port_backed_face_sense_gives_the_mediapipe_map(path, modality, original):
    image = Image.open(path).convert("RGB")
    for size in ((256, 256), (image.height, image.width)):
        want = SENSE_CLASSES[original]()(image, size)
        got = SENSE_CLASSES[f"{original}-torch"]()(image, size)
        assert got.found == want.found and got.extras.get("faces") == want.extras.get("faces")
        assert_same_map(modality, want.tensor, got.tensor, f"{path.name} {size}")


def test_face_senses_batched_equal_one_by_one():
    images = [Image.open(p).convert("RGB") for p in EXAMPLES[:4]]
    for _, original in PAIRS:
        sense = SENSE_CLASSES[f"{original}-torch"]()
        batch = sense.extract_batch(images, (128, 128))
        model_cache.clear()  # forget the remembered meshes (senses/recent.py): the singles run the port again
        for image, out in zip(images, batch, strict=True):
            torch.testing.assert_close(out.tensor, sense(image, (128, 128)).tensor, atol=1e-5, rtol=0)


def test_on_cuda_the_face_ports_go_first_and_on_cpu_mediapipe(monkeypatch):
    for modality, original in PAIRS:
        monkeypatch.delenv(f"SENSORIUM_{modality.upper()}_PROVIDER", raising=False)
        cpu, _ = resolve(modality)
        assert cpu.name == original  # the transformers face parser is not reachable offline
        assert resolve(modality, device="cuda")[0].name == f"{original}-torch"  # ordering only: nothing runs


def test_without_mediapipe_the_face_senses_run_on_the_port(monkeypatch):
    """mediapipe missing (import blocked) and its modules/ copied elsewhere: the ports take over."""
    from sensorium.senses.mediapipe_ports import MODULES_ENV, SELFIE_MODEL, mediapipe_model

    modules = mediapipe_model(SELFIE_MODEL).parents[1]
    image = Image.open(next(p for p in EXAMPLES if "obama" in p.name)).convert("RGB")
    want = {m: SENSE_CLASSES[o]()(image, (128, 128)).tensor for m, o in PAIRS}
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    monkeypatch.setenv(MODULES_ENV, str(modules))
    for modality, original in PAIRS:
        sense, reasons = resolve(modality)
        assert sense is not None and sense.name == f"{original}-torch", reasons
        assert any("mediapipe" in r for r in reasons)
        assert_same_map(modality, want[modality], sense(image, (128, 128)).tensor, modality)


def test_the_bundled_connection_sets_are_mediapipes():
    import mediapipe as mp

    for name in ("FACE_OVAL", "LEFT_EYE", "RIGHT_EYE", "LEFT_EYEBROW", "RIGHT_EYEBROW", "LEFT_IRIS", "RIGHT_IRIS",
                 "NOSE", "LIPS", "TESSELATION"):  # fmt: skip
        assert connections(name) == frozenset(getattr(mp.solutions.face_mesh, f"FACEMESH_{name}")), name
