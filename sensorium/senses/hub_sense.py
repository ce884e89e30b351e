"""The base of every sense whose weights come from a hub repo or a local directory: the model
spec (argument, else env var, else default), where its files are (`weights.locate`), and the
availability check, written once for the transformers and the controlnet-aux senses."""

from __future__ import annotations

import os

from .base import Availability, Sense, SenseUnavailable
from .weights import WeightSource, locate


class HubWeightsSense(Sense):
    env_var: str  # model override: hub id or local directory
    default_model: str
    required_files: tuple[str, ...]  # files that must be in the repo / directory

    def __init__(self, model: str | None = None) -> None:
        super().__init__()
        self.model = model or os.environ.get(self.env_var) or self.default_model

    def _source(self) -> WeightSource:
        return locate(self.model, label=self.label, env_var=self.env_var, files=self.required_files)

    def _check_available(self) -> Availability:
        src = self._source()
        return Availability(src.ok, src.reason)

    def _located(self) -> WeightSource:
        """The weights' location; raises SenseUnavailable (what is missing, how to get it)."""
        src = self._source()
        if not src.ok:
            raise SenseUnavailable(src.reason)
        return src
