"""Sense consistency: re-run the senses on the generator's output and ask them to see what they saw
in the content image (ControlNet++'s cycle consistency with a frozen, differentiable extractor).

Two terms, both through the torch ports of mediapipe's own networks (sensorium.senses.mediapipe_ports):
- person: the selfie-segmentation net on the output against the content's person map (per-pixel KL);
- landmarks: the 468-point face-mesh net on the output's face crop against the same net on the
  real image's crop. The crop is the content's face box: the face-oval contour's extent in the
  landmark map, squared and widened 1.5x as mediapipe widens its face boxes.
A term counts only for samples whose generator input held that modality (presence after dropout),
and for the landmark term only where the content shows a face.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sensorium.modalities import FACE_PARTS, MODALITIES
from sensorium.senses.mediapipe_ports import FaceLandmarkNet, PersonNet, crop_faces

FACE_BOX_SCALE = 1.5  # mediapipe widens a face's box by this much before the landmark crop


def channel_offset(modalities: tuple[str, ...], name: str) -> int | None:
    """First channel of modality `name` in the stacked maps, None when the model does not take it."""
    start = 0
    for m in modalities:
        if m == name:
            return start
        start += MODALITIES[m].channels
    return None


def face_boxes(oval: torch.Tensor, threshold: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Face-oval contour maps (B, H, W) -> crop boxes (B, 4) as (centre x, centre y, width, height)
    fractions of the image, and which samples show a face (B,) bool."""
    b, h, w = oval.shape
    on = oval > threshold
    found = on.flatten(1).any(dim=1)
    xs = torch.arange(w, device=oval.device, dtype=oval.dtype)
    ys = torch.arange(h, device=oval.device, dtype=oval.dtype)
    cols, rows = on.any(dim=1), on.any(dim=2)  # (B, W), (B, H)
    big = torch.tensor(1e9, device=oval.device, dtype=oval.dtype)
    x0 = torch.where(cols, xs, big).amin(1)
    x1 = torch.where(cols, xs, -big).amax(1) + 1
    y0 = torch.where(rows, ys, big).amin(1)
    y1 = torch.where(rows, ys, -big).amax(1) + 1
    side = FACE_BOX_SCALE * torch.maximum(x1 - x0, y1 - y0)
    boxes = torch.stack([(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, side / w, side / h], dim=1)
    fallback = boxes.new_tensor([0.5, 0.5, 1.0, 1.0])
    return torch.where(found[:, None], boxes, fallback), found


def _masked_mean(per_sample: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (per_sample * weight).sum() / weight.sum().clamp(min=1.0)


class SenseConsistency(nn.Module):
    """Holds the frozen sense networks; forward returns ((person, landmarks) losses, stats)."""

    def __init__(self, modalities: tuple[str, ...], person: bool, landmarks: bool) -> None:
        super().__init__()
        self.person_channel = channel_offset(modalities, "person") if person else None
        self.oval_channel = channel_offset(modalities, "face_landmarks") if landmarks else None
        if self.oval_channel is not None:
            self.oval_channel += FACE_PARTS.index("oval")
        self.person_index = modalities.index("person") if self.person_channel is not None else None
        self.landmark_index = modalities.index("face_landmarks") if self.oval_channel is not None else None
        self.person_net = PersonNet() if self.person_channel is not None else None
        self.landmark_net = FaceLandmarkNet() if self.oval_channel is not None else None

    def forward(self, outputs: torch.Tensor, image: torch.Tensor, maps: torch.Tensor,
                presence: torch.Tensor) -> tuple[tuple[torch.Tensor, torch.Tensor], dict]:  # fmt: skip
        """outputs (G, 3, H, W) in [-1, 1]: groups of B generated images that all show the content of
        `image` / `maps` / `presence` (B, ...) — reconstructions, random pairs — in that order."""
        groups = outputs.shape[0] // image.shape[0]
        zero = outputs.new_zeros(())
        person_loss, landmark_loss, stats = zero, zero, {}
        out01 = (outputs.float() + 1) / 2
        if self.person_net is not None:
            target = maps[:, self.person_channel].float().repeat(groups, 1, 1)  # (G, H, W)
            seen = presence[:, self.person_index].float().repeat(groups)
            prob = self.person_net(out01)[:, 0].clamp(1e-4, 1 - 1e-4)
            # Cross-entropy minus the soft target's own entropy (a per-pixel KL divergence): zero
            # when the output's mask is the content's, however soft its edges.
            floor = F.binary_cross_entropy(target.clamp(1e-4, 1 - 1e-4), target, reduction="none")
            per_sample = (F.binary_cross_entropy(prob, target, reduction="none") - floor).mean(dim=(1, 2))
            person_loss = _masked_mean(per_sample, seen)
            stats["g_sense_person"] = person_loss.detach()
        if self.landmark_net is not None:
            boxes, found = face_boxes(maps[:, self.oval_channel].float())
            seen = (presence[:, self.landmark_index] > 0) & found
            with torch.no_grad():
                want, _ = self.landmark_net(crop_faces((image.float() + 1) / 2, boxes))
            got, _ = self.landmark_net(crop_faces(out01, boxes.repeat(groups, 1)))
            size = self.landmark_net.size
            err = (got[..., :2] - want[..., :2].repeat(groups, 1, 1)).norm(dim=-1).mean(dim=1)  # (G,) px
            landmark_loss = _masked_mean(err / size, seen.float().repeat(groups))
            stats["g_sense_landmarks_px"] = (landmark_loss * size).detach()
        return (person_loss, landmark_loss), stats
