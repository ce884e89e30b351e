"""The 478-point attention face mesh in torch against mediapipe, on real photos.

The network (with its three custom ops) against mediapipe's own TFLite inference on the very same
192² crops; the whole pipeline (detection, ROI, rotated crop, refinement, projection) against
`mediapipe_runtime.face_mesh`, i.e. FaceMesh(static_image_mode=True, refine_landmarks=True).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.senses.face_mesh_port import (
    ATTENTION_MESH_MODEL,
    AttentionMeshNet,
    face_mesh_batch,
    face_mesh_port,
    warp_rois,
)
from sensorium.senses.mediapipe_ports import mediapipe_model
from sensorium.senses.tflite import load_tflite
from sensorium.senses.tflite_graph import UnsupportedOpError
from tests.mediapipe_tensors import OUTPUTS, MediapipeInference
from tests.test_tflite_ports import PHOTOS, tensor_of, tiny_model


def _crops(path) -> tuple[torch.Tensor, list]:
    """The port's 192² crops of a photo's faces (uint8-exact, as mediapipe warps) and their ROIs."""
    image = tensor_of(path)[0]
    port = face_mesh_port()
    rois = port.rois([image])[0]
    if not rois:
        return torch.zeros(0, 3, 192, 192), []
    h, w = image.shape[-2:]
    px = torch.tensor([[r.x_center * w, r.y_center * h, r.width * w, r.height * h, r.rotation] for r in rois])
    return warp_rois(image[None].expand(len(rois), -1, -1, -1), px, 192), rois


def test_attention_mesh_matches_mediapipe_inference_on_face_crops():
    """Every output of face_landmark_with_attention.tflite (mesh, lips, eyes, irises, face flag) within
    1e-5 of its range of mediapipe's XNNPACK run, and the refined points within 0.5 px (mean)."""
    runtime = MediapipeInference(str(mediapipe_model(ATTENTION_MESH_MODEL)))
    net = load_tflite(mediapipe_model(ATTENTION_MESH_MODEL))
    faces = 0
    try:
        for path in PHOTOS:
            crops, _ = _crops(path)
            for crop in crops:
                uint8 = (crop.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
                want = runtime.run(uint8)
                with torch.no_grad():
                    got = net(torch.from_numpy(uint8.astype(np.float32) / 255).permute(2, 0, 1)[None])
                for name, out in zip(OUTPUTS, got, strict=True):
                    mine, ref = out.reshape(-1).numpy(), want[name]
                    assert np.abs(mine - ref).max() <= 1e-5 * max(1.0, float(np.abs(ref).max())), (path.name, name)
                faces += 1
    finally:
        runtime.close()
    assert faces >= 6, "the photos should hold at least six faces"


def test_face_mesh_port_matches_mediapipe_face_mesh():
    """Same faces as face_mesh(); landmark mean error <= 0.5 px on the 192² crop for every face
    (measured: about 0.01-0.04 px; about 0.01-0.1 px in image pixels), z within 0.5 crop px."""
    from sensorium.senses.mediapipe_runtime import face_mesh

    faces = 0
    for path in PHOTOS:
        image = Image.open(path).convert("RGB")
        want = face_mesh(image)
        got = face_mesh_port().faces(tensor_of(path))[0]
        assert len(got) == len(want), f"{path.name}: {len(got)} faces, mediapipe finds {len(want)}"
        for ref, (mine, roi) in zip(want, ((f.landmarks, f.roi) for f in got), strict=True):
            assert mine.shape == ref.shape == (478, 3)
            to_crop = 192 / (roi.width * image.width)  # image px -> crop px
            px = np.linalg.norm((mine[:, :2] - ref[:, :2]) * [image.width, image.height], axis=1)
            assert px.mean() * to_crop <= 0.5, (
                f"{path.name}: {px.mean():.3f} image px, {px.mean() * to_crop:.3f} crop px"
            )
            assert np.abs(mine[:, 2] - ref[:, 2]).mean() * image.width * to_crop <= 0.5, path.name
            faces += 1
    assert faces >= 6


@pytest.mark.parametrize("angle", [25, -40, 90, 180])
def test_rotated_faces_match_mediapipe(angle):
    """The ROI's rotation (from the eye keypoints) and the rotated crop, at angles the example
    photos do not reach (measured: 0.01-0.2 px on the crop)."""
    from sensorium.senses.mediapipe_runtime import face_mesh

    for path in [p for p in PHOTOS if "obama" in p.name or "astronaut" in p.name]:
        image = Image.open(path).convert("RGB").rotate(angle, expand=True)
        want = face_mesh(image)
        got = face_mesh_port().faces([torch.from_numpy(np.array(image, dtype=np.float32) / 255).permute(2, 0, 1)])
        assert len(want) == len(got[0]) == 1, path.name
        px = np.linalg.norm((got[0][0].landmarks[:, :2] - want[0][:, :2]) * [image.width, image.height], axis=1)
        assert px.mean() * 192 / (got[0][0].roi.width * image.width) <= 0.5, (path.name, px.mean())


def test_face_mesh_batch_equals_single_images_and_takes_mixed_sizes():
    paths = [p for p in PHOTOS if "group_four" in p.name or "astronaut" in p.name]
    singles = [face_mesh_batch(tensor_of(p))[0] for p in paths]
    mixed = face_mesh_batch([tensor_of(p)[0] for p in paths])  # different sizes: a list
    assert [len(f) for f in mixed] == [len(f) for f in singles] and sum(map(len, singles)) >= 5
    for a, b in zip(mixed, singles, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x, y, atol=1e-5)
    same = tensor_of(paths[0]).expand(2, -1, -1, -1)  # a (B, 3, H, W) batch
    twice = face_mesh_batch(same)
    assert len(twice) == 2 and all(np.allclose(x, y, atol=1e-5) for x, y in zip(twice[0], twice[1], strict=True))


def test_face_mesh_batch_on_an_image_without_faces():
    assert face_mesh_batch(torch.zeros(1, 3, 64, 96)) == [[]]
    assert face_mesh_batch([]) == []


def test_face_mesh_batch_says_what_input_it_wants():
    with pytest.raises(ValueError, match=r"RGB tensor \(3, H, W\).*\(64, 64, 3\)"):
        face_mesh_batch(torch.zeros(1, 64, 64, 3))  # channels last
    with pytest.raises(ValueError, match="float in"):
        face_mesh_batch(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"images\[None\]"):
        face_mesh_batch(torch.zeros(3, 64, 64))  # one image without its batch axis


def test_attention_mesh_is_differentiable():
    """Gradients reach the crop pixels through the custom ops (for training losses)."""
    crops, _ = _crops(next(p for p in PHOTOS if "astronaut" in p.name))
    crops = crops[:1].clone().requires_grad_(True)
    landmarks, flag = AttentionMeshNet()(crops)
    assert landmarks.shape == (1, 478, 3) and flag.shape == (1,)
    landmarks[:, 468:, :2].sum().backward()  # the irises: through TransformTensorBilinear / TransformLandmarks
    assert crops.grad is not None and crops.grad.abs().sum() > 0


def test_a_custom_op_version_we_do_not_implement_is_a_clear_error(tmp_path):
    path = tiny_model(tmp_path / "old.tflite", "TransformLandmarks")  # written as version 1
    with pytest.raises(UnsupportedOpError, match=r"old\.tflite.*TransformLandmarks \(version 1; only 2"):
        load_tflite(path)
