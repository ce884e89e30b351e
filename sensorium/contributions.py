"""What each sense adds: one content and style under every sense alone, each left out, all and none.

    grid = contributions(pipe, content, style_vector, ["pose", "edges"])
    contributions_sheet(content, grid).save("contributions.png")

All subsets render in one batch (`TranslationPipeline.render_subsets`), so the grid costs about
one batched generator call, not one call per cell. The showcase sheet and the app share this home.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from .contact_sheet import Label, contact_sheet
from .pipeline import Content, TranslationPipeline

NONE_LABEL = "none (style only)"


@dataclass(frozen=True)
class Subset:
    label: str  # "only pose", "all but pose", "all", "none (style only)"
    modalities: tuple[str, ...]


def subsets(usable: Sequence[str]) -> list[Subset]:
    """None, each alone, each left out, all: the subsets whose differences show what a sense adds."""
    usable = tuple(usable)
    out = [Subset(NONE_LABEL, ())]
    out += [Subset(label("only", m), (m,)) for m in usable]
    out += [Subset(label("all but", m), tuple(x for x in usable if x != m)) for m in usable]
    return out + [Subset("all", usable)] if usable else out


def label(kind: str, modality: str) -> str:
    """ "only face landmarks": the caption of a subset cell."""
    return f"{kind} {modality.replace('_', ' ')}"


@dataclass(frozen=True)
class Contributions:
    """The translations of one content and style under each subset of its usable senses."""

    modalities: tuple[str, ...]  # the senses the grid varies (ticked and with a map), in checkpoint order
    images: dict[str, Image.Image]  # subset label → translation
    rendered: int  # images the batch held (identical subsets are rendered once)


def contributions(pipe: TranslationPipeline, content: Content, style: torch.Tensor, modalities: Sequence[str],
                  strengths: Mapping[str, float] | None = None) -> Contributions:  # fmt: skip
    """Render `content` in `style` (S,) under `subsets` of the `modalities` that have a map, in one batch."""
    usable = tuple(m for m in pipe.modalities_of(modalities) if m in content.maps)
    rows = subsets(usable)
    unique = list(dict.fromkeys(r.modalities for r in rows))  # with one sense, "only x" is "all"
    images = dict(zip(unique, pipe.render_subsets(content, style, unique, strengths), strict=True))
    return Contributions(usable, {r.label: images[r.modalities] for r in rows}, len(unique))


def contributions_sheet(content: Content, grid: Contributions, cell: int = 160, corner: Label = None) -> Image.Image:
    """The labelled grid: one column per sense (its map on top), rows "only" and "all but", then
    "all" and "none" side by side. `corner` defaults to the content image."""
    columns = max(2, len(grid.modalities))
    heads: list[Label] = [(content.maps[m].preview, m.replace("_", " ")) for m in grid.modalities]
    heads += [None] * (columns - len(heads))
    rows: list[list[Label]] = []
    names: list[Label] = []
    if grid.modalities:
        for kind in ("only", "all but"):
            cells = [(grid.images[label(kind, m)], label(kind, m)) for m in grid.modalities]
            rows.append(cells + [None] * (columns - len(cells)))
            names.append(f"{kind} …")
    reference = ([(grid.images["all"], "all")] if grid.modalities else []) + [(grid.images[NONE_LABEL], NONE_LABEL)]
    rows.append(reference + [None] * (columns - len(reference)))
    names.append("all · none")
    return contact_sheet(names, heads, rows, cell=cell, corner=corner if corner is not None else content.image)
