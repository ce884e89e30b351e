"""The .tflite reader and the mediapipe ports against the runtimes they replace, on real photos.

Person masks and face boxes are compared with the mediapipe solutions the senses run (whole
pipeline: resize, network, post-processing); the landmark network with the TFLite runtime on the
very same 192² crops. Every network is also checked layer-exact on random inputs.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.senses.mediapipe_ports import (
    FACE_DETECTION_MODEL,
    FACE_LANDMARK_MODEL,
    SELFIE_MODEL,
    FaceDetector,
    FaceLandmarkNet,
    PersonNet,
    crop_faces,
    mediapipe_model,
)
from sensorium.senses.tflite import load_tflite
from sensorium.senses.tflite_graph import UnsupportedOpError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "assets/examples").glob("content_*.jpg"))
RAW_CROPS = sorted((ROOT / "data/raw/face").glob("*.jpg"))[::8] + sorted((ROOT / "data/raw/person").glob("*.jpg"))[::8]
PHOTOS = EXAMPLES + RAW_CROPS  # the offline collection's crops where this checkout has them


def tensor_of(path: Path) -> torch.Tensor:
    rgb = np.array(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of (xmin, ymin, width, height) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture(scope="module")
def person_net() -> PersonNet:
    return PersonNet()


@pytest.fixture(scope="module")
def face_detector() -> FaceDetector:
    return FaceDetector()


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name[:40])
def test_person_mask_matches_mediapipe(person_net, path):
    from sensorium.senses.mediapipe_runtime import person_probability

    ref = person_probability(Image.open(path).convert("RGB")) >= 0.5
    with torch.no_grad():
        mine = person_net(tensor_of(path))[0, 0].numpy() >= 0.5
    union = (ref | mine).sum()
    iou = (ref & mine).sum() / union if union else 1.0
    assert iou >= 0.98, f"{path.name}: person mask IoU {iou:.4f}"


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name[:40])
def test_face_boxes_match_mediapipe(face_detector, path):
    import mediapipe as mp

    rgb = np.array(Image.open(path).convert("RGB"))
    with mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5) as det:
        found = det.process(rgb).detections or []
    ref = [(d.location_data.relative_bounding_box.xmin, d.location_data.relative_bounding_box.ymin,
            d.location_data.relative_bounding_box.width, d.location_data.relative_bounding_box.height) for d in found]  # fmt: skip
    mine = [(f.xmin, f.ymin, f.width, f.height) for f in face_detector.detect(tensor_of(path))[0]]
    assert len(mine) == len(ref), f"{path.name}: {len(mine)} faces, mediapipe finds {len(ref)}"
    for box in ref:
        best = max(box_iou(box, m) for m in mine)
        assert best >= 0.95, f"{path.name}: box IoU {best:.4f}"


def test_face_landmarks_match_tflite_runtime(face_detector):
    """The ported mesh network and the TFLite runtime on the same 192² crops (the detector's box
    scaled 1.5, square, as mediapipe's face mesh crops): mean error <= 0.5 px."""
    from ai_edge_litert.interpreter import Interpreter

    runtime = Interpreter(model_path=str(mediapipe_model(FACE_LANDMARK_MODEL)))
    runtime.allocate_tensors()
    net = FaceLandmarkNet()
    errors = []
    for path in PHOTOS:
        image = tensor_of(path)
        h, w = image.shape[-2:]
        for face in face_detector.detect(image)[0]:
            side = 1.5 * max(face.width * w, face.height * h)
            box = torch.tensor([[face.xmin + face.width / 2, face.ymin + face.height / 2, side / w, side / h]])
            crop = crop_faces(image, box)
            with torch.no_grad():
                mine, _ = net(crop)
            runtime.set_tensor(runtime.get_input_details()[0]["index"], crop.permute(0, 2, 3, 1).numpy().copy())
            runtime.invoke()
            out = {o["name"]: runtime.get_tensor(o["index"]) for o in runtime.get_output_details()}
            ref = out["conv2d_21"].reshape(468, 3)
            errors.append(float(np.linalg.norm(ref[:, :2] - mine[0, :, :2].numpy(), axis=1).mean()))
    assert len(errors) >= 6, "the photos should hold at least six faces"
    assert max(errors) <= 0.5, f"landmark mean error per face (px on the 192² crop): {errors}"


@pytest.mark.parametrize("model", [SELFIE_MODEL, FACE_DETECTION_MODEL, FACE_LANDMARK_MODEL,
                                   "pose_detection/pose_detection.tflite", "hand_landmark/hand_landmark_lite.tflite"])  # fmt: skip
def test_networks_match_tflite_runtime_on_random_inputs(model):
    """Every output of the port vs the TFLite runtime: relative error < 1e-5 of the output's range
    (covers fp16 weights, SAME/VALID padding, transposed conv, PReLU, sparse weights, DEPTH_TO_SPACE)."""
    from ai_edge_litert.interpreter import Interpreter

    path = str(mediapipe_model(model))
    runtime = Interpreter(model_path=path)
    runtime.allocate_tensors()
    spec = runtime.get_input_details()[0]
    x = np.random.default_rng(0).uniform(-1, 1, size=spec["shape"]).astype(np.float32)
    runtime.set_tensor(spec["index"], x)
    runtime.invoke()
    ref = {o["name"]: runtime.get_tensor(o["index"]) for o in runtime.get_output_details()}
    net = load_tflite(path)
    with torch.no_grad():
        outs = net(torch.from_numpy(x).permute(0, 3, 1, 2))
    for index, out in zip(net.graph.outputs, outs, strict=True):
        mine = (out.permute(0, 2, 3, 1) if out.dim() == 4 else out).numpy()
        want = ref[net.names[index]]
        assert mine.shape == want.shape
        assert np.abs(mine - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max())), net.names[index]


def tiny_model(path: Path, op_name: str) -> Path:
    """A one-operator .tflite file (input (1, 4) -> custom op -> output), written with flatbuffers."""
    import tflite

    b = flatbuffers.Builder(1024)
    names = [b.CreateString(n) for n in ("x", "y")]
    custom = b.CreateString(op_name)
    tensors = []
    for name in names:
        tflite.TensorStartShapeVector(b, 2)
        for dim in (4, 1):  # vectors are built back to front
            b.PrependInt32(dim)
        shape = b.EndVector()
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddName(b, name)
        tflite.TensorAddBuffer(b, 0)
        tensors.append(tflite.TensorEnd(b))

    def ints(start, values):
        start(b, len(values))
        for v in reversed(values):
            b.PrependInt32(v)
        return b.EndVector()

    op_in, op_out = ints(tflite.OperatorStartInputsVector, [0]), ints(tflite.OperatorStartOutputsVector, [1])
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, op_in)
    tflite.OperatorAddOutputs(b, op_out)
    op = tflite.OperatorEnd(b)
    tflite.SubGraphStartTensorsVector(b, 2)
    for t in reversed(tensors):
        b.PrependUOffsetTRelative(t)
    tensor_vec = b.EndVector()
    tflite.SubGraphStartOperatorsVector(b, 1)
    b.PrependUOffsetTRelative(op)
    op_vec = b.EndVector()
    sub_in, sub_out = ints(tflite.SubGraphStartInputsVector, [0]), ints(tflite.SubGraphStartOutputsVector, [1])
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensor_vec)
    tflite.SubGraphAddInputs(b, sub_in)
    tflite.SubGraphAddOutputs(b, sub_out)
    tflite.SubGraphAddOperators(b, op_vec)
    sub = tflite.SubGraphEnd(b)
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddBuiltinCode(b, 32)  # CUSTOM
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, 32)
    tflite.OperatorCodeAddCustomCode(b, custom)
    code = tflite.OperatorCodeEnd(b)
    tflite.BufferStart(b)
    buffer = tflite.BufferEnd(b)
    vecs = []
    for start, item in ((tflite.ModelStartSubgraphsVector, sub), (tflite.ModelStartOperatorCodesVector, code),
                        (tflite.ModelStartBuffersVector, buffer)):  # fmt: skip
        start(b, 1)
        b.PrependUOffsetTRelative(item)
        vecs.append(b.EndVector())
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddSubgraphs(b, vecs[0])
    tflite.ModelAddOperatorCodes(b, vecs[1])
    tflite.ModelAddBuffers(b, vecs[2])
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    path.write_bytes(b.Output())
    return path


def test_unknown_op_is_a_clear_error_naming_op_and_file(tmp_path):
    path = tiny_model(tmp_path / "strange.tflite", "MySecretOp")
    with pytest.raises(UnsupportedOpError, match=r"strange\.tflite.*custom:MySecretOp"):
        load_tflite(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .tflite file"):
        load_tflite(tmp_path / "absent.tflite")


def test_ports_run_batched_and_pass_gradients(person_net):
    """A batch of two gives each image's own result, and gradients reach the input pixels."""
    a, b = tensor_of(EXAMPLES[0]), tensor_of(EXAMPLES[0]).flip(-1)
    size = (96, 96)
    batch = torch.cat([torch.nn.functional.interpolate(t, size=size) for t in (a, b)]).requires_grad_(True)
    masks = person_net(batch)
    with torch.no_grad():
        single = person_net(batch[1:].detach())
    torch.testing.assert_close(masks[1:], single, atol=1e-5, rtol=0)
    masks.mean().backward()
    assert batch.grad is not None and batch.grad.abs().sum() > 0


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name[:40])
def test_port_backed_person_sense_gives_the_mediapipe_map(path):
    """person-selfie-torch vs person-selfie at the training resolution and at full size (CPU):
    mean |Δ| <= 0.005, max |Δ| <= 0.2 (the warp's fixed-point weights at non-integer scales), and
    the 0.5 masks agree (IoU >= 0.98)."""
    from sensorium.senses.person import SelfiePerson
    from sensorium.senses.person_torch import TorchSelfiePerson

    image = Image.open(path).convert("RGB")
    for size in ((256, 256), (image.height, image.width)):
        want = SelfiePerson()(image, size).tensor
        got = TorchSelfiePerson()(image, size).tensor
        diff = (got - want).abs()
        a, b = want >= 0.5, got >= 0.5
        iou = float((a & b).sum() / (a | b).sum().clamp(min=1))
        assert diff.mean() <= 0.005 and diff.max() <= 0.2 and iou >= 0.98, (size, float(diff.mean()), iou)


def test_a_cuda_sense_set_tries_the_device_provider_first(monkeypatch):
    from sensorium.senses.registry import providers_of, resolve

    assert [p.name for p in providers_of("person")] == ["person-selfie", "person-selfie-torch"]
    assert resolve("person")[0].name == "person-selfie"  # CPU: mediapipe itself
    assert resolve("person", device="cuda")[0].name == "person-selfie-torch"  # only ordering: nothing runs here
    assert resolve("person", prefer="person-selfie", device="cuda")[0].name == "person-selfie-torch"
    monkeypatch.setenv("SENSORIUM_PERSON_PROVIDER", "person-selfie")
    assert resolve("person", device="cuda")[0].name == "person-selfie"  # a pin wins


def test_modules_folder_override(tmp_path, monkeypatch):
    """Machines without mediapipe point SENSORIUM_MEDIAPIPE_MODULES at a copy of its modules/ folder."""
    bundled = mediapipe_model(SELFIE_MODEL)
    monkeypatch.setenv("SENSORIUM_MEDIAPIPE_MODULES", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="SENSORIUM_MEDIAPIPE_MODULES"):
        mediapipe_model(SELFIE_MODEL)
    (tmp_path / "selfie_segmentation").mkdir()
    (tmp_path / SELFIE_MODEL).write_bytes(bundled.read_bytes())
    assert mediapipe_model(SELFIE_MODEL) == tmp_path / SELFIE_MODEL
    assert PersonNet().size == 256  # loads from there
