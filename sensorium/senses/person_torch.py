"""Person (selfie) segmentation through the torch port of mediapipe's network: the same map as
`person-selfie`, on any torch device and batched. The provider for GPU machines (mediapipe runs
on the CPU only, and GPU images often lack it: only the .tflite file is needed here)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .base import Availability, Sense, SenseMap
from .person import PERSON_COLOR


class TorchSelfiePerson(Sense):
    """Person map (1, H, W) in [0, 1] from mediapipe's selfie-segmentation network run in torch."""

    modality = "person"
    name = "person-selfie-torch"
    label = "person (mediapipe selfie segmentation, in torch)"
    channels = 1
    gpu = True  # a device provider: tried first where the sense set runs on CUDA

    def __init__(self) -> None:
        super().__init__()
        self.net = None

    def _check_available(self) -> Availability:
        from .mediapipe_ports import SELFIE_MODEL, mediapipe_model

        try:
            import tflite  # noqa: F401  (the flatbuffer reader)

            mediapipe_model(SELFIE_MODEL)
        except (ImportError, FileNotFoundError) as exc:
            return Availability(False, f"{self.label}: {exc}")
        return Availability(True)

    def _load(self, device: torch.device) -> None:
        from .mediapipe_ports import PersonNet

        self.net = PersonNet().to(device)

    @torch.no_grad()
    def maps(self, images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Batched: images (B, 3, H, W) in [0, 1] on the sense's device -> (B, 1, *size). As
        mediapipe: the mask at the image's own size first, then resized to `size`."""
        self.load(self.device)
        full = self.net(images.to(self.device, torch.float32)).clamp(0, 1)  # type: ignore[misc]
        if tuple(full.shape[-2:]) == tuple(size):
            return full
        return F.interpolate(full, size=size, mode="bilinear", align_corners=False).clamp(0, 1)

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        rgb = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
        t = self.maps(rgb, size)[0].cpu().contiguous()
        found = bool((t >= 0.5).any())
        return SenseMap(self.modality, t, self.preview(t), found, "" if found else "no person found")

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        a = tensor[0].clamp(0, 1).cpu().numpy()[..., None]
        return Image.fromarray((a * PERSON_COLOR).astype(np.uint8))
