"""Which senses can fill which modality, in preference order (the first available one wins).

| modality       | providers, preferred first                         | model override env var        |
| -------------- | -------------------------------------------------- | ----------------------------- |
| depth          | depth-transformers (Depth Anything V2 Small)       | SENSORIUM_DEPTH_MODEL         |
| segmentation   | segmentation-transformers (SegFormer-B0 ADE20k)    | SENSORIUM_SEGMENTATION_MODEL  |
| face_parsing   | face-parsing-transformers, face-parsing-mesh       | SENSORIUM_FACE_PARSING_MODEL  |
| face_depth     | face-depth-mesh (mediapipe, bundled)               | -                             |
| person         | person-selfie (mediapipe, bundled)                 | -                             |
| pose           | pose-openpose, pose-mediapipe (bundled)            | SENSORIUM_POSE_MODEL          |
| face_landmarks | face-landmarks-mesh (mediapipe, bundled)           | -                             |
| edges          | edges-canny (no weights), edges-hed                | SENSORIUM_EDGES_MODEL         |

A model override is a hub id or a local directory (e.g. `SENSORIUM_DEPTH_MODEL=/models/depth`,
holding config.json, preprocessor_config.json and weights; for pose/edges a directory holding
`body_pose_model.pth` / `ControlNetHED.pth`). `SENSORIUM_<MODALITY>_PROVIDER` (e.g.
`SENSORIUM_EDGES_PROVIDER=edges-hed`) pins a provider. Constructor / call arguments beat env vars.
Canny comes before HED on purpose: it gives the same maps on every machine.
A checkpoint's export names the providers its training maps came from (`metadata.senses`); the
pipeline tries those first, so a model sees at inference the maps it was trained on, whichever
providers this machine has (a pin, by argument or env var, still wins).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from .annotator import DEFAULT_ANNOTATORS
from .base import Sense, SenseUnavailable
from .depth import DEFAULT_DEPTH_MODEL, TransformersDepth
from .edges import CannyEdges, HedEdges
from .face_depth import MeshFaceDepth
from .face_landmarks import MeshFaceLandmarks
from .face_parsing import DEFAULT_FACE_PARSING_MODEL, TransformersFaceParsing
from .face_parsing_mesh import MeshFaceParsing
from .openpose import OpenPose
from .person import SelfiePerson
from .pose import MediapipePose
from .segmentation import DEFAULT_SEGMENTATION_MODEL, TransformersSegmentation


@dataclass(frozen=True)
class Provider:
    """One way to fill a modality. `factory(model)` builds the sense; model is None for defaults."""

    name: str
    modality: str
    label: str
    factory: Callable[[str | None], Sense]
    env_var: str | None = None  # model override; None = bundled / no weights
    default_model: str | None = None


@dataclass(frozen=True)
class SenseChoice:
    """A per-modality override: a provider name and/or a model (hub id or local directory)."""

    provider: str | None = None
    model: str | None = None


def _bundled(cls: type[Sense]) -> Callable[[str | None], Sense]:
    return lambda model: cls()


PROVIDERS: dict[str, tuple[Provider, ...]] = {
    "depth": (
        Provider("depth-transformers", "depth", "depth (transformers)", TransformersDepth,
                 "SENSORIUM_DEPTH_MODEL", DEFAULT_DEPTH_MODEL),
    ),
    "segmentation": (
        Provider("segmentation-transformers", "segmentation", "segmentation (transformers)",
                 TransformersSegmentation, "SENSORIUM_SEGMENTATION_MODEL",
                 DEFAULT_SEGMENTATION_MODEL),
    ),
    "face_parsing": (
        Provider("face-parsing-transformers", "face_parsing", "face parsing (transformers)",
                 TransformersFaceParsing, "SENSORIUM_FACE_PARSING_MODEL",
                 DEFAULT_FACE_PARSING_MODEL),
        Provider("face-parsing-mesh", "face_parsing", MeshFaceParsing.label,
                 _bundled(MeshFaceParsing)),
    ),
    "face_depth": (
        Provider("face-depth-mesh", "face_depth", MeshFaceDepth.label, _bundled(MeshFaceDepth)),
    ),
    "person": (Provider("person-selfie", "person", SelfiePerson.label, _bundled(SelfiePerson)),),
    "pose": (
        Provider("pose-openpose", "pose", OpenPose.label, OpenPose, "SENSORIUM_POSE_MODEL",
                 DEFAULT_ANNOTATORS),
        Provider("pose-mediapipe", "pose", MediapipePose.label, _bundled(MediapipePose)),
    ),
    "face_landmarks": (
        Provider("face-landmarks-mesh", "face_landmarks", MeshFaceLandmarks.label,
                 _bundled(MeshFaceLandmarks)),
    ),
    "edges": (
        Provider("edges-canny", "edges", CannyEdges.label, _bundled(CannyEdges)),
        Provider("edges-hed", "edges", HedEdges.label, HedEdges, "SENSORIUM_EDGES_MODEL",
                 DEFAULT_ANNOTATORS),
    ),
}  # fmt: skip


def providers_of(modality: str) -> tuple[Provider, ...]:
    if modality not in PROVIDERS:
        raise KeyError(f"unknown modality {modality!r}; known: {', '.join(PROVIDERS)}")
    return PROVIDERS[modality]


def provider_env_var(modality: str) -> str:
    return f"SENSORIUM_{modality.upper()}_PROVIDER"


def resolve(modality: str, choice: SenseChoice | None = None, prefer: str | None = None) -> tuple[Sense | None, list[str]]:
    """The sense to use for `modality` and the reasons of every provider skipped on the way.

    With a provider (argument, else env var) only that one is tried; otherwise `prefer` (a
    provider name, e.g. the one a checkpoint was trained with) goes first. A model override applies
    to the providers that take weights. Returns (None, reasons) when nothing can run. Never raises
    for availability (only for unknown modality / provider names).
    """
    choice = choice or SenseChoice()
    candidates = providers_of(modality)
    wanted = choice.provider or os.environ.get(provider_env_var(modality)) or None
    if not wanted and prefer:
        candidates = tuple(sorted(candidates, key=lambda p: p.name != prefer))  # stable: the rest keep their order
    if wanted:
        candidates = tuple(p for p in candidates if p.name == wanted)
        if not candidates:
            names = ", ".join(p.name for p in providers_of(modality))
            raise KeyError(f"no provider {wanted!r} for {modality!r}; choose one of: {names}")
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
    for providers in PROVIDERS.values():
        for p in providers:
            row = {"modality": p.modality, "name": p.name, "label": p.label,
                   "env_var": p.env_var, "default_model": p.default_model}  # fmt: skip
            if check:
                availability = p.factory(None).available()
                row.update(available=availability.ok, reason=availability.reason)
            rows.append(row)
    return rows
