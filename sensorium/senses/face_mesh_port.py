"""mediapipe's FaceMesh (static images, refine_landmarks=True: 478 points) as a torch pipeline.

The steps of mediapipe's FaceLandmarkFrontCpu graph, each reproduced: BlazeFace short range ->
the ROI rect (DetectionsToRects: eye keypoints give the rotation; RectTransformation: square on
the long side, scaled 1.5) -> overlapping ROIs merged (AssociationNormRect, IoU > 0.5) -> the
rotated 192² crop (ImageToTensor: warpPerspective of the uint8 image, replicated border) ->
face_landmark_with_attention.tflite -> the face-presence gate -> LandmarksRefinement (lips, eyes
and irises written over the mesh; iris z = mean z of its eye contour) -> LandmarkProjection back
to normalised image coordinates (z scaled by the ROI width). Crops of every image in a batch run
through the network together, on any device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .face_mesh_refinement import EYE_CONTOUR, LEFT_EYE, LEFT_IRIS, LIPS, RIGHT_EYE, RIGHT_IRIS
from .mediapipe_ports import FaceBox, FaceDetector, mediapipe_model
from .mediapipe_runtime import MAX_FACES
from .model_cache import shared
from .tflite import load_tflite

ATTENTION_MESH_MODEL = "face_landmark/face_landmark_with_attention.tflite"
ROI_SCALE = 1.5  # FaceDetectionFrontDetectionToRoi: the detection box, squared, times 1.5
SAME_FACE_IOU = 0.5  # AssociationNormRectCalculator's min_similarity_threshold


@dataclass(frozen=True)
class FaceRoi:
    """A rotated face rectangle in normalised image coordinates (mediapipe's NormalizedRect)."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float  # radians, clockwise on screen (image y points down)


def _normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def roi_from_detection(face: FaceBox, width: int, height: int) -> FaceRoi:
    """DetectionsToRects (rotation: keypoint 0 -> 1 made level) then RectTransformation (square_long, x1.5)."""
    (x0, y0), (x1, y1) = face.keypoints[0], face.keypoints[1]
    rotation = _normalize_radians(0.0 - math.atan2(-(y1 - y0) * height, (x1 - x0) * width))
    long_side = max(face.width * width, face.height * height)
    return FaceRoi(face.xmin + face.width / 2, face.ymin + face.height / 2,
                   long_side / width * ROI_SCALE, long_side / height * ROI_SCALE, rotation)  # fmt: skip


def _overlap(a_centre: float, a_size: float, b_centre: float, b_size: float) -> float:
    return min(a_centre + a_size / 2, b_centre + b_size / 2) - max(a_centre - a_size / 2, b_centre - b_size / 2)


def _iou(a: FaceRoi, b: FaceRoi) -> float:
    """IoU of the unrotated rects, as the association calculator computes it."""
    ix = _overlap(a.x_center, a.width, b.x_center, b.width)
    iy = _overlap(a.y_center, a.height, b.y_center, b.height)
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def associate(rois: Sequence[FaceRoi], threshold: float = SAME_FACE_IOU) -> list[FaceRoi]:
    """AssociationNormRect on one list: each later rect replaces every earlier one it overlaps."""
    kept: list[FaceRoi] = []
    for roi in rois:
        kept = [k for k in kept if _iou(roi, k) <= threshold] + [roi]
    return kept


def warp_rois(images: torch.Tensor, rois: torch.Tensor, size: int, quantize: bool = True) -> torch.Tensor:
    """Rotated crops (N, C, size, size) of images (N, C, H, W) in [0, 1]: ImageToTensor on the CPU.

    rois (N, 5) = (centre x, centre y, width, height, rotation) in pixels / radians. Output pixel
    (i, j) samples centre + R(rotation) · ((j / size - ½) · width, (i / size - ½) · height), the
    cv::warpPerspective rule (no half-pixel offset), with the border replicated; `quantize` rounds
    to 1/255 as mediapipe's uint8 warp does (off for a differentiable crop)."""
    n, _, h, w = images.shape
    steps = torch.arange(size, device=images.device, dtype=images.dtype) / size - 0.5
    u = steps[None, None, :] * rois[:, 2, None, None]  # (N, 1, size) along the rect's width
    v = steps[None, :, None] * rois[:, 3, None, None]  # (N, size, 1) along its height
    cos, sin = torch.cos(rois[:, 4])[:, None, None], torch.sin(rois[:, 4])[:, None, None]
    x = rois[:, 0, None, None] + cos * u - sin * v  # (N, size, size) source columns
    y = rois[:, 1, None, None] + sin * u + cos * v
    grid = torch.stack([2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1], dim=-1)
    crops = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return torch.round(crops * 255) / 255 if quantize else crops


class AttentionMeshNet(nn.Module):
    """face_landmark_with_attention.tflite plus mediapipe's refinement: forward(crops (B, 3, 192, 192)
    in [0, 1]) -> (landmarks (B, 478, 3) in crop pixels, z in x's scale; face-presence logit (B,))."""

    size = 192

    def __init__(self) -> None:
        super().__init__()
        self.net = load_tflite(mediapipe_model(ATTENTION_MESH_MODEL)).requires_grad_(False)

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = crops.shape[0]
        # channels-last activations: ~20-25% faster on the CPU (measured at batch 1 and 4), same values
        x = crops.contiguous(memory_format=torch.channels_last)
        mesh, lips, left_eye, right_eye, left_iris, right_iris, flag = self.net(x)
        points = torch.cat([mesh.reshape(b, 468, 3), mesh.new_zeros(b, 10, 3)], dim=1)
        xy = points[..., :2].clone()
        for index, part in ((LIPS, lips), (LEFT_EYE, left_eye), (RIGHT_EYE, right_eye),
                            (LEFT_IRIS, left_iris), (RIGHT_IRIS, right_iris)):  # fmt: skip
            xy[:, list(index)] = part.reshape(b, len(index), 2)
        z = points[..., 2].clone()  # the mesh's z; lips and eyes keep it
        for iris, eye in ((LEFT_IRIS, LEFT_EYE), (RIGHT_IRIS, RIGHT_EYE)):
            z[:, list(iris)] = z[:, list(eye[:EYE_CONTOUR])].mean(dim=1, keepdim=True)
        return torch.cat([xy, z[..., None]], dim=-1), flag.reshape(-1)


def project(landmarks: torch.Tensor, rois: torch.Tensor, size: int) -> torch.Tensor:
    """LandmarkProjection: crop-pixel landmarks (N, P, 3) -> normalised image coordinates, through
    the normalised rois (N, 5) (rotation about the crop centre; z scaled by the ROI width)."""
    x, y = landmarks[..., 0] / size - 0.5, landmarks[..., 1] / size - 0.5
    cos, sin = torch.cos(rois[:, 4, None]), torch.sin(rois[:, 4, None])
    nx = (cos * x - sin * y) * rois[:, 2, None] + rois[:, 0, None]
    ny = (sin * x + cos * y) * rois[:, 3, None] + rois[:, 1, None]
    nz = landmarks[..., 2] / size * rois[:, 2, None]
    return torch.stack([nx, ny, nz], dim=-1)


def _checked(image: torch.Tensor) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"face mesh: each image must be an RGB tensor (3, H, W) in [0, 1], got {shape}")
    if not image.is_floating_point():
        raise ValueError(f"face mesh: images must be float in [0, 1], got {image.dtype} (divide uint8 by 255)")
    return image


@dataclass(frozen=True)
class MeshFace:
    landmarks: np.ndarray  # (478, 3) float32: x, y normalised to the image, z relative depth
    roi: FaceRoi  # the rect the 192² crop was taken from


class FaceMeshPort(nn.Module):
    """The whole FaceMesh(static_image_mode=True, refine_landmarks=True) in torch; `run` batches."""

    def __init__(self, max_faces: int = MAX_FACES, min_detection: float = 0.5, min_presence: float = 0.5) -> None:
        super().__init__()
        self.detector = FaceDetector(min_score=min_detection)
        self.mesh = AttentionMeshNet()
        self.max_faces = max_faces
        self.min_presence = min_presence

    def rois(self, images: list[torch.Tensor]) -> list[list[FaceRoi]]:
        """The face ROIs of each image (3, H, W), in the order mediapipe reports the faces; the
        detector runs once per group of equally sized images."""
        groups: dict[tuple[int, int], list[int]] = {}
        for b, image in enumerate(images):
            groups.setdefault(tuple(image.shape[-2:]), []).append(b)
        out: list[list[FaceRoi]] = [[] for _ in images]
        for (h, w), members in groups.items():
            found = self.detector.detect(torch.stack([images[b] for b in members]))
            for b, faces in zip(members, found, strict=True):
                out[b] = associate([roi_from_detection(f, w, h) for f in faces[: self.max_faces]])
        return out

    def run(self, images: torch.Tensor | Sequence[torch.Tensor]) -> list[list[np.ndarray]]:
        """images (B, 3, H, W) or a list of (3, H, W), RGB in [0, 1] -> per image its faces' (478, 3)
        landmarks (x, y normalised by the image's width / height, z relative depth in x's scale)."""
        return [[face.landmarks for face in found] for found in self.faces(images)]

    @torch.no_grad()
    def faces(self, images: torch.Tensor | Sequence[torch.Tensor]) -> list[list[MeshFace]]:
        """As `run`, each face with the ROI its crop was taken from."""
        if isinstance(images, torch.Tensor) and images.dim() != 4:
            raise ValueError(f"face mesh: a batch (B, 3, H, W) or a list of (3, H, W), got a {tuple(images.shape)} "
                             "tensor (one image: images[None])")  # fmt: skip
        device = next(self.mesh.buffers()).device
        images = [_checked(im).to(device, torch.float32) for im in images]
        rois = self.rois(images)
        owner = [b for b, found in enumerate(rois) for _ in found]
        flat = [r for found in rois for r in found]
        out: list[list[MeshFace]] = [[] for _ in images]
        if not owner:
            return out
        norm = torch.tensor([[r.x_center, r.y_center, r.width, r.height, r.rotation] for r in flat], device=device)
        crops = []
        for b, image in enumerate(images):  # images may differ in size: warp each image's faces together
            mine = [k for k, o in enumerate(owner) if o == b]
            if mine:
                h, w = image.shape[-2:]
                px = norm[mine] * norm.new_tensor([w, h, w, h, 1.0])
                crops.append(warp_rois(image[None].expand(len(mine), -1, -1, -1), px, AttentionMeshNet.size))
        landmarks, flags = self.mesh(torch.cat(crops))
        points = project(landmarks, norm, AttentionMeshNet.size).cpu().numpy().astype(np.float32)
        present = (torch.sigmoid(flags) > self.min_presence).cpu().numpy()
        for k, b in enumerate(owner):
            if present[k]:
                out[b].append(MeshFace(points[k], flat[k]))
        return out


def face_mesh_port(device: str | torch.device = "cpu", max_faces: int = MAX_FACES) -> FaceMeshPort:
    """The process-wide port on `device` (loaded once)."""
    device = torch.device(device)
    return shared(("face-mesh-port", str(device), max_faces), lambda: FaceMeshPort(max_faces).to(device).eval())


def face_mesh_batch(images: torch.Tensor | Sequence[torch.Tensor], device: str | torch.device = "cpu",
                    max_faces: int = MAX_FACES) -> list[list[np.ndarray]]:  # fmt: skip
    """Batched face mesh, the port of `mediapipe_runtime.face_mesh`: images (B, 3, H, W) (or a list
    of (3, H, W) of any sizes), RGB float in [0, 1] -> per image a list of (478, 3) float32 arrays,
    x, y normalised to [0, 1], z relative depth (smaller = nearer). Runs on `device`."""
    return face_mesh_port(device, max_faces).run(images)
