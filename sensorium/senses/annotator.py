"""Senses whose weights are one file of the `lllyasviel/Annotators` hub repo (controlnet-aux's
OpenPose and HED), or of a local directory holding that file."""

from __future__ import annotations

import os
from abc import abstractmethod

import torch

from .base import Availability, Sense, SenseUnavailable
from .model_cache import shared
from .sources import WeightSource, locate

DEFAULT_ANNOTATORS = "lllyasviel/Annotators"


class AnnotatorSense(Sense):
    """Finds `weights_file` (local dir, HF cache or hub), builds the network once per process."""

    env_var: str  # model override: hub id or local directory
    weights_file: str  # the one file this sense needs from the repo

    def __init__(self, model: str | None = None) -> None:
        super().__init__()
        self.model = model or os.environ.get(self.env_var) or DEFAULT_ANNOTATORS
        self._net = None

    def _source(self) -> WeightSource:
        return locate(self.model, label=self.label, env_var=self.env_var, files=(self.weights_file,))

    def _check_available(self) -> Availability:
        src = self._source()
        return Availability(src.ok, src.reason)

    def _load(self, device: torch.device) -> None:
        src = self._source()
        if not src.ok:
            raise SenseUnavailable(src.reason)
        try:
            if src.local_only:
                path = os.path.join(src.location, self.weights_file)
            else:
                from huggingface_hub import hf_hub_download

                path = hf_hub_download(src.location, self.weights_file)
            self._net = shared((self.name, path, str(device)), lambda: self._build(path, device))
        except Exception as exc:
            raise SenseUnavailable(f"{self.label}: could not load {self.model!r}: {exc}") from exc

    @abstractmethod
    def _build(self, path: str, device: torch.device):
        """The network, from the weights file at `path` (heavy imports belong here)."""
