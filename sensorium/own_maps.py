"""A person's own maps in place of what the senses saw: `maps={"person": image}` on the pipeline.

Each picture is decoded through its modality's codec (sensorium/senses/codec.py) at the content's
model size and cached like a detected map (in the SenseSet's map cache, keyed by picture content),
so re-running with the same override, a toggle or a strength decodes and extracts nothing again.
An empty map leaves its slot absent, with a note saying so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .images import ImageError, load_image
from .senses import Extraction, MapCache, SenseMap, image_hash
from .senses.codec import CODECS, decode_map

OwnMap = Image.Image | np.ndarray | torch.Tensor | str | Path | bytes


class OwnMapError(ValueError):
    """A map that cannot be used at all (unreadable file, unknown modality); the message is for people."""


def _picture(modality: str, source: OwnMap) -> Image.Image | torch.Tensor:
    if isinstance(source, torch.Tensor):
        return source
    try:
        return load_image(source, max_side=4096, matte="black").image  # transparent = nothing there, as in the editor
    except ImageError as err:
        raise OwnMapError(f"Your {modality} map: {err}") from None


def _key(picture: Image.Image | torch.Tensor, modality: str, size: tuple[int, int]) -> tuple:
    if isinstance(picture, torch.Tensor):
        data = picture.detach().float().cpu().contiguous().numpy().tobytes()
        digest = f"tensor{tuple(picture.shape)}:{hashlib.blake2b(data, digest_size=16).hexdigest()}"
    else:
        digest = image_hash(picture)
    return ("own-map", modality, digest, tuple(size))


def read_own_maps(maps: Mapping[str, OwnMap | None] | None, modalities: Sequence[str], size: tuple[int, int],
                  cache: MapCache) -> dict[str, SenseMap]:  # fmt: skip
    """modality -> SenseMap decoded from each given picture (None values are skipped).

    `found` is False for an empty map. Raises OwnMapError naming the modality for an unknown name,
    an unreadable file or a tensor of the wrong shape.
    """
    if maps is None:
        return {}
    if not isinstance(maps, Mapping):
        raise OwnMapError('Maps must be a mapping like {"person": image}.')
    out = {}
    for modality, source in maps.items():
        if source is None:
            continue
        if modality not in modalities:
            raise OwnMapError(f"Unknown modality {modality!r} for a map; this checkpoint has: {', '.join(modalities)}.")
        picture = _picture(modality, source)

        def decode(modality=modality, picture=picture) -> SenseMap:
            try:
                decoded = decode_map(modality, picture, size)
            except ValueError as err:
                raise OwnMapError(f"Your {modality} map: {err}") from None
            note = "your map" + "".join(f"; {n}" for n in decoded.notes)
            if decoded.empty:
                note = f"your {modality} map is empty, so the {modality} slot is absent" + "".join(
                    f"; {n}" for n in decoded.notes)  # fmt: skip
            preview = CODECS[modality].preview(decoded.tensor)
            return SenseMap(modality, decoded.tensor, preview, not decoded.empty, note, {"source": "own"})

        out[modality] = cache.get_or_compute(_key(picture, modality, size), decode)
    return out


def with_own_maps(detected: Extraction, own: Mapping[str, SenseMap]) -> Extraction:
    """A new Extraction: the detected maps with each own map in its place (an empty one removes it)."""
    out = Extraction()
    out.update(detected)
    out.notes, out.seconds = dict(detected.notes), dict(detected.seconds)
    for modality, smap in own.items():
        out.seconds[modality] = 0.0
        out.notes[modality] = smap.note
        if smap.found:
            out[modality] = smap
        else:
            out.pop(modality, None)
    return out
