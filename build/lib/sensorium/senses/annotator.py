"""Senses whose weights are one file of the `lllyasviel/Annotators` hub repo (controlnet-aux's
OpenPose and HED), or of a local directory holding that file."""

from __future__ import annotations

import os
from abc import abstractmethod

import torch

from .base import SenseUnavailable
from .hub_sense import HubWeightsSense
from .model_cache import shared

DEFAULT_ANNOTATORS = "lllyasviel/Annotators"


class AnnotatorSense(HubWeightsSense):
    """Finds `weights_file` (local dir, HF cache or hub), builds the network once per process."""

    default_model = DEFAULT_ANNOTATORS
    weights_file: str  # the one file this sense needs from the repo

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        self._net = None

    @property
    def required_files(self) -> tuple[str, ...]:
        return (self.weights_file,)

    def _load(self, device: torch.device) -> None:
        src = self._located()
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
