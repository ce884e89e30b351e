"""Checks of what a person (or an API client) sends: images, modalities, strengths, sizes.

Each returns clean values or raises `gr.Error` with a sentence meant for the person.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import gradio as gr

from sensorium.images import ImageError, LoadedImage, load_image

from .state import DemoState

MAX_STRENGTH = 1.5


def user_error(message: str) -> gr.Error:
    """A gr.Error for a person's mistake: shown in the UI and the API, no server traceback."""
    return gr.Error(message, print_exception=False)


def load_upload(state: DemoState, source, role: str) -> LoadedImage:
    """Decode an upload (path, PIL, numpy, bytes) to RGB, or raise a friendly gr.Error."""
    if source is None or (isinstance(source, str) and not source.strip()):
        raise user_error(f"Please add a {role} image: upload one or click an example below it.")
    try:
        if isinstance(source, (str, Path)) and os.path.isfile(source):
            st = os.stat(source)  # a path is reused only for the same file contents (size, mtime)
            return state.images.get_or_compute((str(source), st.st_size, st.st_mtime_ns), lambda: load_image(source))
        return load_image(source)
    except ImageError as err:
        raise user_error(f"{role.capitalize()} image: {err}") from None


def check_modalities(state: DemoState, modalities: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Requested modalities in checkpoint order, and notes for the ones that cannot run here."""
    if modalities is None:
        return list(state.available), []
    if isinstance(modalities, str):
        modalities = [modalities]
    if not isinstance(modalities, (list, tuple)):
        raise user_error(f'Modalities must be a list of names like ["edges"], got {short(repr(modalities), 60)}.')
    unknown = [m for m in modalities if m not in state.modalities]
    if unknown:
        raise user_error(f"Unknown modality {', '.join(map(repr, unknown))}; this checkpoint uses: "
                         f"{', '.join(state.modalities)}.")  # fmt: skip
    wanted = [m for m in state.modalities if m in modalities]
    off = [m for m in wanted if not state.availability[m].ok]
    notes = [f"{m} is not available here, so it was left out ({short(state.availability[m].reason)})." for m in off]
    return [m for m in wanted if m not in off], notes


def check_strengths(state: DemoState, strengths: Mapping[str, float] | None) -> dict[str, float]:
    """modality -> strength in [0, 1.5] (default 1); unknown names or non-numbers raise gr.Error."""
    if strengths is None:
        return {}
    if not isinstance(strengths, Mapping):
        raise user_error('Strengths must be a mapping like {"edges": 0.5}.')
    out = {}
    for name, value in strengths.items():
        if name not in state.modalities:
            raise user_error(
                f"Unknown modality {name!r} in strengths; this checkpoint uses: {', '.join(state.modalities)}."
            )
        try:
            out[name] = min(max(float(value), 0.0), MAX_STRENGTH)
            if math.isnan(out[name]):
                raise ValueError("NaN")
        except (TypeError, ValueError):
            raise user_error(
                f"The strength of {name} must be a number from 0 to {MAX_STRENGTH}, got {value!r}."
            ) from None
    return out


def check_resolution(state: DemoState, resolution) -> tuple[int, list[str]]:
    """A valid output size (multiple of the model stride, within the limit) and a note if changed."""
    if resolution in (None, ""):
        return state.default_resolution, []
    try:
        wanted = int(float(resolution))
    except (TypeError, ValueError, OverflowError):
        raise user_error(f"Resolution must be a number of pixels, got {resolution!r}.") from None
    stride = state.pipe.config.stride
    low = max(stride, 64 // stride * stride)
    res = min(max(wanted, low), state.max_resolution) // stride * stride
    notes = []
    if wanted > state.max_resolution:
        notes.append(f"Resolution is limited to {state.max_resolution} px here; used {res} px.")
    elif res != wanted:
        notes.append(f"Resolution must be a multiple of {stride} from {low} px; used {res} px.")
    return res, notes


def check_domain(state: DemoState, domain) -> int:
    n = state.pipe.config.num_domains
    try:
        d = int(domain or 0)
    except (TypeError, ValueError, OverflowError):
        raise user_error(f"Domain must be a whole number from 0 to {n - 1}.") from None
    if not 0 <= d < n:
        raise user_error(f"Domain must be from 0 to {n - 1} for this checkpoint, got {d}.")
    return d


def check_mix(mix) -> float:
    """The style mix in [0, 1] (values outside are clipped); non-numbers raise gr.Error."""
    try:
        value = float(mix or 0.0)
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value):
        raise user_error(f"Mix must be a number from 0 to 1, got {short(repr(mix), 60)}.")
    return min(max(value, 0.0), 1.0)


def pretty(modality: str) -> str:
    return modality.replace("_", " ")


def short(reason: str, limit: int = 160) -> str:
    """The first sentence-ish of a long reason, for captions and checkbox hints."""
    text = " ".join(reason.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
