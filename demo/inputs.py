"""Checks of what a person (or an API client) sends: images, modalities, strengths, sizes.

Each returns clean values or raises `gr.Error` with a sentence meant for the person.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import gradio as gr

from sensorium.images import ImageError, LoadedImage, load_image
from sensorium.pipeline import UsageError

from .state import DemoState

MAX_STRENGTH = 1.5
T = TypeVar("T")


def user_error(message: str) -> gr.Error:
    """A gr.Error for a person's mistake: shown in the UI and the API, no server traceback."""
    return gr.Error(message, print_exception=False)


def unreadable_upload(payload) -> str:
    """Why gradio could not convert an upload, in load_image's words where it can say more (an image
    payload has a `path`; an editor's, a `background` with one)."""
    path = getattr(payload, "path", None) or getattr(getattr(payload, "background", None), "path", None)
    try:
        load_image(path)
    except ImageError as err:
        if path:
            return str(err)
    return "That file is not an image we can read. Please upload a JPEG, PNG or WebP."


def _when_conversion_fails(component: gr.components.Component,
                           instead: Callable[[object, Exception], object]) -> gr.components.Component:  # fmt: skip
    """`component`, whose preprocess hands the handlers `instead(payload, error)` where gradio's own
    conversion fails. Wraps the instance's preprocess (not a subclass: gradio writes a .pyi for every
    subclass)."""
    plain = component.preprocess

    def preprocess(payload):
        try:
            return plain(payload)
        except Exception as exc:
            failed = exc
        return instead(payload, failed)  # outside the except: a raised gr.Error carries no gradio traceback

    component.preprocess = preprocess
    return component


def lenient(component: gr.components.Component) -> gr.components.Component:
    """An API input whose value gradio's conversion refuses (a number sent as text, a domain by name,
    null for "all", one modality as a string) reaches the handler as sent: its checks take it, or
    say why in a sentence, where gradio would answer a bare "Error"."""
    return _when_conversion_fails(component, lambda payload, _: payload)


def request_inputs(state: DemoState, *names: str, n: int = 4) -> tuple[gr.components.Component, ...]:
    """The hidden API inputs that the endpoints' requests share, built alike for /translate, the
    exploring endpoints and the MCP tools: `names` among modalities, strengths, resolution, mix,
    domain, seed and n (its default `n`), in that order given. Call inside their hidden group."""
    build = {
        "modalities": lambda: lenient(gr.CheckboxGroup(list(state.modalities), value=list(state.available),
                                                       label="modalities")),  # fmt: skip
        "strengths": lambda: gr.JSON({}, label="strengths"),
        "resolution": lambda: lenient(gr.Number(state.default_resolution, precision=0, label="resolution")),
        "mix": lambda: lenient(gr.Number(0.0, label="mix")),
        "domain": lambda: lenient(gr.Number(0, precision=0, label="domain")),
        "seed": lambda: lenient(gr.Number(0, precision=0, label="seed")),
        "n": lambda: lenient(gr.Number(n, precision=0, label="n")),
    }
    return tuple(build[name]() for name in names)


def guard_preprocess(component: gr.components.Component, on_failure: Callable[[str], object]):
    """Make `component` hand `on_failure(message)`'s value to the handlers, instead of gradio's bare
    "Error", when it cannot convert an upload (a gr.Error of gradio's own passes as it is)."""

    def instead(payload, error: Exception):
        if isinstance(error, gr.Error):
            raise error
        return on_failure(unreadable_upload(payload))

    return _when_conversion_fails(component, instead)


def load_upload(state: DemoState, source, role: str) -> LoadedImage:
    """Decode an upload (path, PIL, numpy, bytes) to RGB, or raise a friendly gr.Error."""
    if source is None or (isinstance(source, str) and not source.strip()):
        raise user_error(f"Please add a {role} image: upload one or click an example below it.")
    try:
        if isinstance(source, (str, Path)) and os.path.isfile(source):
            st = os.stat(source)  # a path is reused only for the same file contents (size, mtime)
            renew_age(source, st)
            return state.images.get_or_compute((str(source), st.st_size, st.st_mtime_ns), lambda: load_image(source))
        return load_image(source)
    except ImageError as err:
        raise user_error(f"{role.capitalize()} image: {err}") from None


def renew_age(path, st: os.stat_result) -> None:
    """Mark an upload as in use: gradio's cache is swept by ctime (demo/cache_sweep.py), so a file a
    person keeps using for longer than the TTL would vanish under them. A chmod to the same mode
    renews the ctime and leaves the mtime (the decode cache's key) as it is."""
    with contextlib.suppress(OSError):  # read-only examples, or a file swept a moment ago
        os.chmod(path, stat.S_IMODE(st.st_mode))


def pipeline_checked(check: Callable[..., T], *args) -> T:
    """Run one of the pipeline's request checks; its UsageError becomes the person's message."""
    try:
        return check(*args)
    except UsageError as err:
        raise user_error(str(err)) from None


def check_modalities(state: DemoState, modalities: Sequence[str] | None,
                     own: Sequence[str] = ()) -> tuple[list[str], list[str]]:  # fmt: skip
    """Requested modalities in checkpoint order, and notes for the ones that cannot run here
    (a modality with an own map in `own` runs without its sense)."""
    if modalities is None:
        return [m for m in state.modalities if m in state.available or m in own], []
    wanted = pipeline_checked(state.pipe.modalities_of, modalities)
    off = [m for m in wanted if not state.availability[m].ok and m not in own]
    notes = [f"{m} is not available here, so it was left out ({short(state.availability[m].reason)})." for m in off]
    return [m for m in wanted if m not in off], notes


def check_strengths(state: DemoState, strengths: Mapping[str, float] | None) -> tuple[dict[str, float], list[str]]:
    """modality -> strength in [0, 1.5] (the sliders' range; default 1), and a note for each one
    given outside it (API callers), which is clipped; unknown names or non-numbers raise gr.Error."""
    checked = pipeline_checked(state.pipe.strengths_of, strengths, MAX_STRENGTH)
    notes = [f"The strength of {m} was {strengths[m]!r}; it ran at {x:g} (strengths go from 0 to {MAX_STRENGTH:g})."
             for m, x in checked.items() if float(strengths[m]) != x]  # fmt: skip
    return checked, notes


def check_resolution(state: DemoState, resolution) -> tuple[int, list[str]]:
    """A valid output size (multiple of the model stride, within the limit) and a note if changed."""
    if resolution in (None, ""):
        return state.default_resolution, []
    try:
        wanted = int(float(resolution))
    except (TypeError, ValueError, OverflowError):
        raise user_error(f"Resolution must be a number of pixels, got {resolution!r}.") from None
    stride = state.pipe.config.stride
    low = max(state.pipe.config.min_resolution, 64 // stride * stride)
    res = min(max(wanted, low), state.max_resolution) // stride * stride
    notes = []
    if wanted > state.max_resolution:
        notes.append(f"Resolution is limited to {state.max_resolution} px here; used {res} px.")
    elif res != wanted:
        notes.append(f"Resolution must be a multiple of {stride} from {low} px; used {res} px.")
    return res, notes


def check_domain(state: DemoState, domain) -> int:
    """A style head by name or number (the pipeline's one rule)."""
    return pipeline_checked(state.pipe.domain_index, domain)


def check_mix(state: DemoState, mix) -> float:
    """The style mix in [0, 1] (values outside are clipped); non-numbers raise gr.Error."""
    return pipeline_checked(state.pipe.mix_of, mix)


def pretty(modality: str) -> str:
    return modality.replace("_", " ")


def short(reason: str, limit: int = 160) -> str:
    """The first sentence-ish of a long reason, for captions and checkbox hints."""
    text = " ".join(reason.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
