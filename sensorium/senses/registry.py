"""Which senses can fill which modality, in preference order (the first available one wins).

The order is each `Modality` spec's `providers` (sensorium/modalities.py); each provider is a
`Sense` class, which declares its name, label and model override itself. `python -m
sensorium.senses --list` prints the table, and the README's modality table is kept in agreement
with the specs by tests/test_docs.py. A new sense is one class passed to `register_sense` (or
listed in `SENSE_CLASSES`) plus its name in a spec's `providers`.

A model override is a hub id or a local directory (e.g. `SENSORIUM_DEPTH_MODEL=/models/depth`,
holding config.json, preprocessor_config.json and weights; for pose/edges a directory holding
`body_pose_model.pth` / `ControlNetHED.pth`). `SENSORIUM_<MODALITY>_PROVIDER` (e.g.
`SENSORIUM_EDGES_PROVIDER=edges-hed`) pins a provider. Constructor / call arguments beat env vars.
A checkpoint's export names the providers its training maps came from (`metadata.senses`); the
pipeline tries those first, so a model sees at inference the maps it was trained on, whichever
providers this machine has (a pin, by argument or env var, still wins).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..modalities import MODALITIES
from .base import Sense, SenseUnavailable
from .depth import TransformersDepth
from .edges import CannyEdges, HedEdges
from .face_depth import MeshFaceDepth
from .face_landmarks import MeshFaceLandmarks
from .face_mesh_torch import TorchMeshFaceDepth, TorchMeshFaceLandmarks, TorchMeshFaceParsing
from .face_parsing import TransformersFaceParsing
from .face_parsing_mesh import MeshFaceParsing
from .openpose import OpenPose
from .person import SelfiePerson
from .person_torch import TorchSelfiePerson
from .pose import MediapipePose
from .segmentation import TransformersSegmentation


@dataclass(frozen=True)
class Provider:
    """One way to fill a modality: a Sense class, whose own attributes say everything else."""

    sense: type[Sense]

    @property
    def name(self) -> str:
        return self.sense.name

    @property
    def modality(self) -> str:
        return self.sense.modality

    @property
    def label(self) -> str:
        return self.sense.label

    @property
    def env_var(self) -> str | None:  # model override; None = bundled / no weights
        return getattr(self.sense, "env_var", None)

    @property
    def default_model(self) -> str | None:
        return getattr(self.sense, "default_model", None) if self.env_var else None

    def factory(self, model: str | None) -> Sense:
        """The sense, with `model` (hub id or folder) where it takes weights."""
        return self.sense(model) if self.env_var else self.sense()


@dataclass(frozen=True)
class SenseChoice:
    """A per-modality override: a provider name and/or a model (hub id or local directory)."""

    provider: str | None = None
    model: str | None = None


SENSE_CLASSES: dict[str, type[Sense]] = {
    cls.name: cls
    for cls in (TransformersDepth, TransformersSegmentation, TransformersFaceParsing, MeshFaceParsing,
                MeshFaceDepth, SelfiePerson, TorchSelfiePerson, OpenPose, MediapipePose, MeshFaceLandmarks, CannyEdges, HedEdges,
                TorchMeshFaceLandmarks, TorchMeshFaceParsing, TorchMeshFaceDepth)
}  # fmt: skip


def register_sense(cls: type[Sense]) -> type[Sense]:
    """Make a Sense class available by its name (usable as a class decorator)."""
    SENSE_CLASSES[cls.name] = cls
    return cls


def all_providers() -> dict[str, tuple[Provider, ...]]:
    """modality → its providers in preference order, for every modality spec."""
    return {m: providers_of(m) for m in MODALITIES}


def providers_of(modality: str) -> tuple[Provider, ...]:
    if modality not in MODALITIES:
        raise KeyError(f"unknown modality {modality!r}; known: {', '.join(MODALITIES)}")
    missing = [n for n in MODALITIES[modality].providers if n not in SENSE_CLASSES]
    if missing:
        raise KeyError(f"modality {modality!r} names senses that are not registered: {missing}")
    return tuple(Provider(SENSE_CLASSES[n]) for n in MODALITIES[modality].providers)


def provider_env_var(modality: str) -> str:
    return f"SENSORIUM_{modality.upper()}_PROVIDER"


def same_maps(a: str, b: str) -> bool:
    """Whether providers `a` and `b` make the same maps: equal, or one a torch port of the other."""
    def original(name: str) -> str:
        cls = SENSE_CLASSES.get(name)
        return (cls.port_of if cls is not None else None) or name

    return original(a) == original(b)


def rank_providers(modality: str, prefer: str | None = None,
                   device: str | torch.device | None = None) -> tuple[Provider, ...]:  # fmt: skip
    """The providers of `modality` in the order they are tried: the one chooser of the app (the
    pipeline's SenseSet) and of training.prepare.

    The spec's order, with each torch port beside the sense it ports (`port_of`): `prefer` (the
    provider a checkpoint's maps came from) and its port or original go first, as they make the
    same maps; on a CUDA `device` a port (`gpu = True`) goes before its original, so mediapipe's
    networks run batched on the GPU, while a different sense listed earlier (the transformers face
    parser before the mesh parsing) keeps its place. Where mediapipe is missing, its providers are
    unavailable and `resolve` moves on to the ports, which need only the .tflite files.
    """
    candidates = providers_of(modality)
    names = [p.name for p in candidates]
    cuda = device is not None and torch.device(device).type == "cuda"

    def rank(p: Provider) -> tuple[bool, int, bool]:
        family = p.sense.port_of if p.sense.port_of in names else p.name
        return (not (prefer and same_maps(p.name, prefer)), names.index(family), not (cuda and p.sense.gpu))

    return tuple(sorted(candidates, key=rank))  # stable: a family keeps the spec's order off CUDA


def resolve(modality: str, choice: SenseChoice | None = None, prefer: str | None = None,
            device: str | torch.device | None = None) -> tuple[Sense | None, list[str]]:  # fmt: skip
    """The sense to use for `modality` and the reasons of every provider skipped on the way.

    With a provider (argument, else env var) only that one is tried; otherwise they are tried in
    `rank_providers` order (a checkpoint's `prefer` first, device providers first on CUDA). A model
    override applies to the providers that take weights. Returns (None, reasons) when nothing can run. Never raises
    for availability (only for unknown modality / provider names).
    """
    choice = choice or SenseChoice()
    wanted = choice.provider or os.environ.get(provider_env_var(modality)) or None
    if wanted:
        candidates = tuple(p for p in providers_of(modality) if p.name == wanted)
        if not candidates:
            names = ", ".join(p.name for p in providers_of(modality))
            raise KeyError(f"no provider {wanted!r} for {modality!r}; choose one of: {names}")
    else:
        candidates = rank_providers(modality, prefer, device)
    reasons: list[str] = []
    for provider in candidates:
        sense = provider.factory(choice.model if provider.env_var else None)
        availability = sense.available()
        if availability:
            return sense, reasons
        reasons.append(availability.reason or f"{sense.label}: unavailable")
    return None, reasons


def get_sense(modality: str, provider: str | None = None, model: str | None = None) -> Sense:
    """The first available sense for `modality` (or exactly `provider`), with `model` if given.

    Raises SenseUnavailable naming every missing model and how to provide it.
    """
    sense, reasons = resolve(modality, SenseChoice(provider, model))
    if sense is None:
        raise SenseUnavailable(f"no sense available for {modality!r}: " + " | ".join(reasons))
    return sense


def list_senses(check: bool = False) -> list[dict]:
    """Every provider in preference order: modality, name, label, env_var, default_model, and
    with `check` also `available` / `reason` (checking may take up to a few seconds offline)."""
    rows = []
    for providers in all_providers().values():
        for p in providers:
            row = {"modality": p.modality, "name": p.name, "label": p.label,
                   "env_var": p.env_var, "default_model": p.default_model}  # fmt: skip
            if check:
                availability = p.factory(None).available()
                row.update(available=availability.ok, reason=availability.reason)
            rows.append(row)
    return rows
