"""mediapipe's bundled networks as torch modules, with the pre- and post-processing of its graphs.

`PersonNet` is selfie segmentation (general model): the whole image stretched to 256², values in
[0, 1], the 256² mask resized back (mediapipe's SelfieSegmentationCpu). `FaceDetector` is BlazeFace
short range: letterboxed to 128², values in [-1, 1], 896 SSD anchors, weighted non-maximum
suppression (FaceDetectionShortRangeCpu). `FaceLandmarkNet` is the 468-point face mesh on a 192²
crop in [0, 1]. All take (B, 3, H, W) RGB in [0, 1], run batched on any device and are
differentiable, so training can put them behind the generator.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .base import Availability
from .tflite import load_tflite

SELFIE_MODEL = "selfie_segmentation/selfie_segmentation.tflite"
FACE_DETECTION_MODEL = "face_detection/face_detection_short_range.tflite"
FACE_LANDMARK_MODEL = "face_landmark/face_landmark.tflite"


MODULES_ENV = "SENSORIUM_MEDIAPIPE_MODULES"  # a folder laid out as mediapipe/modules (machines without mediapipe)


def mediapipe_model(relative: str) -> Path:
    """A model file bundled in the installed mediapipe wheel (found without importing mediapipe),
    or under $SENSORIUM_MEDIAPIPE_MODULES where that is set."""
    if os.environ.get(MODULES_ENV):
        path = Path(os.environ[MODULES_ENV]) / relative
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing (${MODULES_ENV} is set; copy mediapipe 0.10.21's modules/ there)"
            )
        return path
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{relative}: needs mediapipe==0.10.21 installed (its wheel carries the model)")
    path = Path(next(iter(spec.submodule_search_locations))) / "modules" / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: mediapipe==0.10.21 bundles it, later releases do not")
    return path


def port_availability(label: str, models: tuple[str, ...]) -> Availability:
    """Whether a torch-port sense can run here: the `tflite` reader imports and every bundled model
    file it needs is found (in mediapipe's wheel or under $SENSORIUM_MEDIAPIPE_MODULES)."""
    try:
        import tflite  # noqa: F401  (the flatbuffer reader)

        for model in models:
            mediapipe_model(model)
    except ImportError as exc:
        return Availability(False, f"{label}: needs the `tflite` flatbuffer reader ({exc})")
    except FileNotFoundError as exc:
        hint = "" if os.environ.get(MODULES_ENV) else f"; or point ${MODULES_ENV} at a copy of mediapipe's modules/"
        return Availability(False, f"{label}: {exc}{hint}")
    return Availability(True)


class PersonNet(nn.Module):
    """Person probability (B, 1, H, W) in [0, 1] of images (B, 3, H, W) in [0, 1].

    `size` is the network's input side: 256 as mediapipe runs it; the network is fully
    convolutional, so training on small images can run it at 128 for a quarter of the cost."""

    def __init__(self, size: int = 256) -> None:
        super().__init__()
        self.size = size
        self.net = load_tflite(mediapipe_model(SELFIE_MODEL)).requires_grad_(False)

    def forward(self, images: torch.Tensor, out_size: tuple[int, int] | None = None) -> torch.Tensor:
        (mask,) = self.net(warp_rect(images, whole_image(images), (self.size, self.size)))
        # TensorsToSegmentation resizes back with cv::resize (INTER_LINEAR): the half-pixel rule.
        return F.interpolate(mask, size=out_size or images.shape[-2:], mode="bilinear", align_corners=False)

    def features(self, images: torch.Tensor, names: tuple[str, ...]) -> list[torch.Tensor]:
        """Intermediate activations by tensor name (for a trained-feature perceptual loss)."""
        x = warp_rect(images, whole_image(images), (self.size, self.size))
        return list(self.net(x, keep=names)[1:])


@dataclass(frozen=True)
class FaceBox:
    """A detected face in normalised image coordinates, with BlazeFace's six keypoints."""

    xmin: float
    ymin: float
    width: float
    height: float
    score: float
    keypoints: tuple[tuple[float, float], ...]  # right eye, left eye, nose tip, mouth, right ear, left ear


def blazeface_anchors(size: int = 128, strides: tuple[int, ...] = (8, 16, 16, 16)) -> torch.Tensor:
    """SSD anchor centres (N, 2) as mediapipe's SsdAnchorsCalculator makes them for BlazeFace:
    fixed anchor size 1, two anchors per layer and cell (aspect 1 and the interpolated scale),
    layers of equal stride sharing one grid."""
    centres = []
    layer = 0
    while layer < len(strides):
        same = [s for s in strides[layer:] if s == strides[layer]]
        grid = -(-size // strides[layer])
        ys, xs = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
        cell = torch.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], dim=-1).reshape(-1, 1, 2)
        centres.append(cell.expand(-1, 2 * len(same), 2).reshape(-1, 2))
        layer += len(same)
    return torch.cat(centres)


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of box a (4,) against boxes b (N, 4), boxes as (xmin, ymin, xmax, ymax)."""
    lo, hi = torch.maximum(a[:2], b[:, :2]), torch.minimum(a[2:], b[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(dim=1)
    area = lambda t: (t[..., 2] - t[..., 0]) * (t[..., 3] - t[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp(min=1e-12)


def weighted_nms(boxes: torch.Tensor, keypoints: torch.Tensor, scores: torch.Tensor,
                 threshold: float = 0.3) -> list[tuple[torch.Tensor, torch.Tensor, float]]:  # fmt: skip
    """mediapipe's WEIGHTED non-max suppression: each kept face is the score-weighted mean of every
    candidate overlapping the best remaining one by IoU > threshold; its score is the best's."""
    order = torch.argsort(scores, descending=True)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    alive = torch.ones(len(scores), dtype=torch.bool, device=scores.device)
    kept = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        group = alive & (_iou(boxes[i], boxes) > threshold)
        group[i] = True
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        kps = (keypoints[group].reshape(int(group.sum()), -1) * w).sum(0) / w.sum()
        kept.append((box, kps.reshape(-1, 2), float(scores[i])))
        alive &= ~group
    return kept


class FaceDetector(nn.Module):
    """BlazeFace short range. forward(images) -> raw (regressors (B, 896, 16), logits (B, 896, 1));
    detect(images) -> per image a list of FaceBox, as mediapipe's face detection reports them."""

    size = 128

    def __init__(self, min_score: float = 0.5) -> None:
        super().__init__()
        self.net = load_tflite(mediapipe_model(FACE_DETECTION_MODEL)).requires_grad_(False)
        self.register_buffer("anchors", blazeface_anchors(self.size), persistent=False)
        self.min_score = min_score

    def letterbox(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[float, float, float, float]]:
        """The centred square around the image (black outside it) warped to 128², in [-1, 1]; ->
        (tensor, (left, top, right, bottom) padding as fractions of the square)."""
        h, w = images.shape[-2:]
        side = max(h, w)
        rect = images.new_tensor([(w - side) / 2, (h - side) / 2, side, side]).expand(images.shape[0], 4)
        x = warp_rect(images, rect, (self.size, self.size)) * 2 - 1
        left, top = (side - w) / 2 / side, (side - h) / 2 / side
        return x, (left, top, left, top)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, _ = self.letterbox(images)
        regressors, logits = self.net(x)
        return regressors, logits

    def decode(self, regressors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 896, 16) raw -> boxes (B, 896, 4) xmin, ymin, xmax, ymax and keypoints (B, 896, 6, 2),
        in the 128² input's normalised coordinates."""
        r = regressors / self.size
        centre = r[..., :2] + self.anchors
        half = r[..., 2:4] / 2
        boxes = torch.cat([centre - half, centre + half], dim=-1)
        keypoints = r[..., 4:].reshape(*r.shape[:-1], 6, 2) + self.anchors[:, None, :]
        return boxes, keypoints

    @torch.no_grad()
    def detect(self, images: torch.Tensor) -> list[list[FaceBox]]:
        x, (left, top, right, bottom) = self.letterbox(images)
        regressors, logits = self.net(x)
        boxes, keypoints = self.decode(regressors)
        scores = torch.sigmoid(logits[..., 0].clamp(-100, 100))
        sx, sy = 1 - left - right, 1 - top - bottom
        out = []
        for b in range(images.shape[0]):
            keep = scores[b] >= self.min_score
            faces = []
            for box, kps, score in weighted_nms(boxes[b][keep], keypoints[b][keep], scores[b][keep]):
                x0, y0 = (float(box[0]) - left) / sx, (float(box[1]) - top) / sy
                x1, y1 = (float(box[2]) - left) / sx, (float(box[3]) - top) / sy
                pts = tuple(((float(p[0]) - left) / sx, (float(p[1]) - top) / sy) for p in kps)
                faces.append(FaceBox(x0, y0, x1 - x0, y1 - y0, score, pts))
            out.append(faces)
        return out


class FaceLandmarkNet(nn.Module):
    """468 face-mesh landmarks of 192² face crops: forward(crops (B, 3, 192, 192) in [0, 1]) ->
    (landmarks (B, 468, 3) in crop pixels, face-presence logit (B,))."""

    size = 192

    def __init__(self) -> None:
        super().__init__()
        self.net = load_tflite(mediapipe_model(FACE_LANDMARK_MODEL)).requires_grad_(False)

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mesh, flag = self.net(crops)
        return mesh.reshape(crops.shape[0], 468, 3), flag.reshape(-1)

    def features(self, crops: torch.Tensor, names: tuple[str, ...]) -> list[torch.Tensor]:
        return list(self.net(crops, keep=names)[2:])


def warp_rect(images: torch.Tensor, rects: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """mediapipe's ImageToTensor on the CPU: the rectangle's corners map to the output's corners, output
    pixel (i, j) samples source pixel (x0 + j * w / out_w, y0 + i * h / out_h) bilinearly, with zeros
    outside the image (cv::warpPerspective, INTER_LINEAR, BORDER_ZERO): no half-pixel offset.

    images (B, C, H, W); rects (B, 4) = (x0, y0, w, h) in source pixels. Differentiable in both."""
    b, _, h, w = images.shape
    oh, ow = out_hw
    j = torch.arange(ow, device=images.device, dtype=images.dtype) / ow
    i = torch.arange(oh, device=images.device, dtype=images.dtype) / oh
    x = rects[:, 0, None] + j[None] * rects[:, 2, None]  # (B, out_w) source pixel columns
    y = rects[:, 1, None] + i[None] * rects[:, 3, None]  # (B, out_h)
    gx = (2 * x / max(w - 1, 1) - 1)[:, None, :].expand(b, oh, ow)
    gy = (2 * y / max(h - 1, 1) - 1)[:, :, None].expand(b, oh, ow)
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def whole_image(images: torch.Tensor) -> torch.Tensor:
    """The rect (B, 4) covering each image exactly."""
    h, w = images.shape[-2:]
    return images.new_tensor([0.0, 0.0, w, h]).expand(images.shape[0], 4)


def crop_faces(images: torch.Tensor, boxes: torch.Tensor, size: int = 192) -> torch.Tensor:
    """Crops (B, 3, size, size) of images (B, 3, H, W) at boxes (B, 4) = (centre x, centre y, width,
    height) as fractions of the image's width and height, sampled as mediapipe samples its crops."""
    h, w = images.shape[-2:]
    scale = boxes.new_tensor([w, h, w, h])
    px = boxes * scale
    rects = torch.cat([px[:, :2] - px[:, 2:] / 2, px[:, 2:]], dim=1)
    return warp_rect(images, rects, (size, size))
