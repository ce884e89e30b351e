"""The common contract of every sense: a pretrained extractor that turns an RGB image into a
fixed-format conditioning map for the model plus a colour preview for people.

A *modality* is a slot in the model's input (name + channel count, fixed by the checkpoint);
a *sense* is one extractor that can fill that slot (e.g. "pose" is filled by OpenPose when its
weights are reachable, else by mediapipe's bundled landmarker).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from ..images import to_rgb


@dataclass(frozen=True)
class Availability:
    """Whether a sense can run here; `reason` tells a person what is missing and how to get it."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


@dataclass
class SenseMap:
    """One extracted map.

    tensor: (C, H, W) float32 in [0, 1] on the CPU, H×W = the requested size; when nothing was
        found it is zeros (one-hot maps such as face parsing are all "background" instead).
    preview: RGB PIL image of the same size, for the UI gallery.
    found: False when the sense ran but saw nothing (no person, no face); the map is then zeros.
    note: a short human message (e.g. "no face found"), empty when all went well.
    """

    modality: str
    tensor: torch.Tensor
    preview: Image.Image
    found: bool = True
    note: str = ""
    extras: dict = field(default_factory=dict)


class Sense(ABC):
    """An extractor for one modality.

    Subclasses set the class attributes, implement `_check_available`, `_load` and `_extract`.
    Heavy libraries are imported inside `_load`/`_check_available` so a broken one never breaks
    the others or `import sensorium`.
    """

    modality: str  # the model slot this sense fills, e.g. "depth"
    name: str  # unique id of this provider, e.g. "depth-transformers"
    label: str  # shown to people, honest about the source, e.g. "depth (face mesh)"
    channels: int  # C of the map tensor
    gpu: bool = False  # a device provider: tried first where the sense set runs on CUDA (registry.rank_providers)
    batched: bool = False  # `_extract_batch` runs several images as one batch (a torch port on a device)
    port_of: str | None = None  # the provider whose maps this one reproduces (a torch port of its network)

    def __init__(self) -> None:
        self._loaded = False
        self.device = torch.device("cpu")

    # -- availability -------------------------------------------------------------------
    def available(self) -> Availability:
        """Cheap check (no weight loading unless unavoidable); never raises."""
        try:
            return self._check_available()
        except Exception as exc:  # a sense must never take the caller down
            return Availability(False, f"{self.label}: {type(exc).__name__}: {exc}")

    @abstractmethod
    def _check_available(self) -> Availability: ...

    # -- loading ------------------------------------------------------------------------
    def load(self, device: str | torch.device = "cpu") -> Sense:
        """Load weights once (idempotent); raises SenseUnavailable with a human reason."""
        device = torch.device(device)
        if not self._loaded or device != self.device:
            self.device = device
            self._load(device)
            self._loaded = True
        return self

    @abstractmethod
    def _load(self, device: torch.device) -> None: ...

    # -- extraction ---------------------------------------------------------------------
    def __call__(self, image: Image.Image, size: tuple[int, int] | None = None) -> SenseMap:
        """Extract the map of one RGB image at `size` (H, W); defaults to the image size."""
        self.load(self.device)
        image = to_rgb(image)
        size = size or (image.height, image.width)
        out = self._extract(image, size)
        assert out.tensor.shape == (self.channels, *size), (self.name, tuple(out.tensor.shape))
        return out

    @abstractmethod
    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap: ...

    def extract_batch(self, images: Sequence[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        """Maps of several RGB images at one `size` (H, W), in order: one batch through the network
        for a `batched` sense, one image after another for the others (the same maps either way)."""
        self.load(self.device)
        images = [to_rgb(image) for image in images]
        outs = self._extract_batch(images, size) if self.batched else [self._extract(im, size) for im in images]
        for out in outs:
            assert out.tensor.shape == (self.channels, *size), (self.name, tuple(out.tensor.shape))
        return outs

    def _extract_batch(self, images: list[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        raise NotImplementedError(f"{self.name} declares batched = True but has no _extract_batch")

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        """Colour preview of a map tensor (C, H, W); default: first channel as gray."""
        arr = (tensor[:1].clamp(0, 1).squeeze(0).cpu().numpy() * 255).astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(modality={self.modality!r}, name={self.name!r}, channels={self.channels})"


class SenseUnavailable(RuntimeError):
    """Raised by `load` when a sense cannot run; the message says which model and how to get it."""
