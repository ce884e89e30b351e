"""Person (selfie) segmentation through the torch port of mediapipe's network: the same map as
`person-selfie`, on any torch device and batched. The provider for GPU machines (mediapipe runs
on the CPU only, and GPU images often lack it: only the .tflite file is needed here)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .base import Availability, Sense, SenseMap
from .model_cache import shared
from .person import PERSON_COLOR
from .recent import recent


class TorchSelfiePerson(Sense):
    """Person map (1, H, W) in [0, 1] from mediapipe's selfie-segmentation network run in torch."""

    modality = "person"
    name = "person-selfie-torch"
    label = "person (mediapipe selfie segmentation, in torch)"
    channels = 1
    gpu = True  # a device provider: tried first where the sense set runs on CUDA
    batched = True
    port_of = "person-selfie"

    def __init__(self) -> None:
        super().__init__()
        self.net = None

    def _check_available(self) -> Availability:
        from .mediapipe_ports import SELFIE_MODEL, port_availability

        return port_availability(self.label, (SELFIE_MODEL,))

    def _load(self, device: torch.device) -> None:
        from .mediapipe_ports import PersonNet

        # One network per device for every sense that runs it (person, and mesh face parsing's mask).
        self.net = shared(("person-selfie-torch", str(device)), lambda: PersonNet().to(device))

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
        return self._extract_batch([image], size)[0]

    def _extract_batch(self, images: list[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        """One network call per group of equally sized images (a prepared set's crops: one call),
        shared with the mesh face parsing, which reads the same mask (sensorium/senses/recent.py)."""
        memo = recent(("person-port", str(self.device)))
        return memo.batch(images, lambda todo: self._run_batch(todo, size), extra=tuple(size))

    def _run_batch(self, images: list[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        out: list[SenseMap | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            groups.setdefault(image.size, []).append(i)
        for indices in groups.values():
            rgb = np.stack([np.asarray(images[i], dtype=np.uint8) for i in indices])  # (B, H, W, 3)
            batch = torch.from_numpy(rgb).to(self.device).permute(0, 3, 1, 2).float() / 255
            maps = self.maps(batch, size).cpu()
            for i, t in zip(indices, maps, strict=True):
                t = t.contiguous()
                found = bool((t >= 0.5).any())
                out[i] = SenseMap(self.modality, t, self.preview(t), found, "" if found else "no person found")
        return out  # type: ignore[return-value]

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        a = tensor[0].clamp(0, 1).cpu().numpy()[..., None]
        return Image.fromarray((a * PERSON_COLOR).astype(np.uint8))
