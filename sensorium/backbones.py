"""ImageNet backbones from torchvision (VGG19 for the perceptual loss; Inception-v3, AlexNet and
VGG16 for FID/KID and LPIPS), found the way a person expects on any machine.

Lookup order: an explicit file, the backbone's environment variable, torch's hub cache
(`$TORCH_HOME/hub/checkpoints/`), then torchvision's download. Offline, every miss ends in one
message that names the file, the URL and where to put it — never a silent substitute.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

from .network import PROBE_TIMEOUT_S, remembered


def downloads_disabled() -> bool:
    """The user switched downloads off: SENSORIUM_OFFLINE, or the hub's own HF_HUB_OFFLINE /
    TRANSFORMERS_OFFLINE (read by `hub_offline`, which the senses use too)."""
    from .env import hub_offline, truthy

    return hub_offline() or truthy(os.environ.get("SENSORIUM_OFFLINE", ""))


def reachable(url: str) -> bool:
    """Can `url` be fetched right now? One HEAD request with a short timeout, remembered for a
    minute: torch.hub's own download has no timeout and would hang behind a silent firewall."""
    def probe() -> bool:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=PROBE_TIMEOUT_S).close()
            return True
        except Exception:
            return False

    return remembered(f"host:{url.split('/')[2]}", probe)


@dataclass(frozen=True)
class Backbone:
    """One torchvision weight file: what it is, where torchvision downloads it from, and the
    environment variable that points at a local copy."""

    label: str
    url: str
    env_var: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def cache_path(self) -> Path:
        return Path(torch.hub.get_dir()) / "checkpoints" / self.filename

    def find(self, path: str | os.PathLike | None = None) -> Path | None:
        """A local copy, or None; never touches the network."""
        for candidate in (path, os.environ.get(self.env_var), self.cache_path):
            if candidate and Path(candidate).is_file():
                return Path(candidate)
        return None

    def missing_message(self, purpose: str) -> str:
        return (
            f"{purpose} needs torchvision's {self.label} ImageNet weights ({self.filename}), which are not on "
            f"this machine. Download {self.url} into {self.cache_path.parent} or set {self.env_var}=/path/to/"
            f"{self.filename}; torchvision fetches it by itself where pytorch.org is reachable."
        )

    def load_state_dict(self, purpose: str, path: str | os.PathLike | None = None,
                        allow_download: bool = True) -> dict[str, torch.Tensor]:  # fmt: skip
        """The state dict (weights only, no pickled code); FileNotFoundError with the fix otherwise."""
        local = self.find(path)
        if local is not None:
            return torch.load(local, map_location="cpu", weights_only=True)
        if allow_download and not downloads_disabled() and reachable(self.url):
            try:
                return torch.hub.load_state_dict_from_url(self.url, map_location="cpu", progress=False,
                                                          check_hash=True, weights_only=True)  # fmt: skip
            except Exception as exc:  # no network, proxy, disk full: the message says what to do
                raise FileNotFoundError(self.missing_message(purpose)) from exc
        raise FileNotFoundError(self.missing_message(purpose))


VGG19 = Backbone("VGG19", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", "SENSORIUM_VGG19_WEIGHTS")
VGG16 = Backbone("VGG16", "https://download.pytorch.org/models/vgg16-397923af.pth", "SENSORIUM_VGG16_WEIGHTS")
ALEXNET = Backbone(
    "AlexNet", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", "SENSORIUM_ALEXNET_WEIGHTS"
)
INCEPTION_V3 = Backbone(
    "Inception-v3",
    "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    "SENSORIUM_INCEPTION_WEIGHTS",
)
