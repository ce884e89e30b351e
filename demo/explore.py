"""The app's exploring handlers: what each sense adds (a labelled grid) and where style is free
(a heat map). Plain functions over a `DemoState`, like demo.handlers, and as friendly with bad input.

Both run on the cached maps and style, so ticking a sense re-runs only the content encoder and the
generator, each as one batch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PIL import Image

from sensorium.conditioning import DEFAULT_STRENGTH
from sensorium.contributions import contributions as render_contributions
from sensorium.contributions import contributions_sheet
from sensorium.freedom import FULL_SCALE
from sensorium.freedom import style_freedom as render_freedom
from sensorium.senses.settings import SenseSettings

from . import handlers as h
from .inputs import check_domain, load_upload, pretty, user_error
from .state import DemoState

DEFAULT_STYLES = 8  # sampled styles behind one heat map
MAX_STYLES = 16


@dataclass(frozen=True)
class Grid:
    image: Image.Image  # the labelled grid
    labels: tuple[str, ...]  # the subsets it shows ("only pose", …, "all", "none (style only)")
    status: str  # Markdown: the senses varied, the images rendered and the time


@dataclass(frozen=True)
class Freedom:
    heat_map: Image.Image  # the spread over the dimmed content, at model size
    mean: float  # the mean spread (pixels in [0, 1])
    status: str  # Markdown: what the colours mean, for these senses


@h.time_limited
def contributions(state: DemoState, content, style, modalities: Sequence[str] | None = None,
                  strengths: Mapping[str, float] | None = None, resolution: int | None = None,
                  domain: int = 0, maps: Mapping | None = None, settings: SenseSettings | None = None) -> Grid:  # fmt: skip
    """The content in the style under each ticked sense alone, each left out, all and none (one batch).
    `maps` (own maps) and `settings` as for `handlers.translate`, so the grid shows the current result's maps."""
    s = load_upload(state, style, "style")
    sensed, use, strengths, res = _sensed(state, content, modalities, strengths, resolution, maps, settings)
    domain = check_domain(state, domain)
    style_vec = state.pipe.style(s.image, res, domain)
    ticked = [m for m in use if strengths.get(m, DEFAULT_STRENGTH) > 0]  # a strength of 0 is as good as unticked
    t0 = time.perf_counter()
    grid = h.out_of_memory_is_friendly(lambda: render_contributions(state.pipe, sensed, style_vec, ticked, strengths))
    seconds = time.perf_counter() - t0
    if grid.modalities:
        senses = ", ".join(pretty(m) for m in grid.modalities)
        status = f"{len(grid.images)} cells from {grid.rendered} images in one batch ({seconds:.2f} s) · senses: {senses}"
    else:
        status = "No ticked sense has a map, so the grid shows the style alone: tick a sense to compare."
    return Grid(contributions_sheet(sensed, grid), tuple(grid.images), status)


@h.time_limited
def style_freedom(state: DemoState, content, modalities: Sequence[str] | None = None,
                  strengths: Mapping[str, float] | None = None, resolution: int | None = None,
                  n: int = DEFAULT_STYLES, seed: int = 0, domain: int = 0, maps: Mapping | None = None,
                  settings: SenseSettings | None = None) -> Freedom:  # fmt: skip
    """How much `n` sampled styles change each pixel under the ticked senses: bright = style decides.
    `maps` (own maps) and `settings` as for `handlers.translate`."""
    sensed, use, strengths, res = _sensed(state, content, modalities, strengths, resolution, maps, settings)
    domain = check_domain(state, domain)
    try:
        n, seed = int(n if n is not None else DEFAULT_STYLES), int(seed or 0)
        if abs(seed) >= 2**63:
            raise ValueError(seed)
    except (TypeError, ValueError, OverflowError):
        raise user_error("The number of styles and the seed must be whole numbers (seed below 2^63).") from None
    if not 2 <= n <= MAX_STYLES:
        raise user_error(f"The number of styles must be from 2 to {MAX_STYLES}, got {n}.")
    free = h.out_of_memory_is_friendly(lambda: render_freedom(state.pipe, sensed, use, strengths, n, seed, domain))
    pinned = [pretty(m) for m in use if m in sensed.maps and strengths.get(m, DEFAULT_STRENGTH) > 0]
    under = f"the senses {', '.join(pinned)}" if pinned else "no sense (style only)"
    status = (f"Mean spread {free.mean:.3f} over {n} sampled styles under {under}; full brightness at a "
              f"std of {FULL_SCALE:g} (pixels in 0–1).")  # fmt: skip
    return Freedom(free.heat_map, free.mean, status)


def _sensed(state: DemoState, content, modalities, strengths, resolution, maps, settings):
    """(sensed content, modalities to use, strengths, resolution) the way `handlers.translate` reads
    them: a modality given an own map is used, and its map replaces the sense's."""
    c = load_upload(state, content, "content")
    req = h.content_request(state, modalities, strengths, resolution, maps)
    return h.sense(state, c.image, req.resolution, req.own, settings), req.use, req.strengths, req.resolution
