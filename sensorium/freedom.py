"""Where style is free: how much the output changes across sampled styles, pixel by pixel.

The senses pin parts of the image (a face outline, a limb, an edge); elsewhere the style decides
(the paper's "null space controlled by style"). Rendering one content under N sampled style
vectors in one batch and taking the per-pixel spread shows which is which:

    freedom = style_freedom(pipe, content, ["pose", "edges"], n=8)
    freedom.heat_map.save("free.png"); freedom.mean
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .pipeline import Content, TranslationPipeline

# Display scale: a per-pixel standard deviation of FULL_SCALE (pixels in [0, 1]) or more is shown
# at full brightness. 0.5 is the largest possible (a pixel black under half the styles, white under
# the rest); at 0.35 the style already swings a pixel between very different colours. A fixed scale,
# not each map's own maximum, keeps maps comparable: unticking a sense brightens what it pinned,
# and a model whose styles barely change anything stays dark.
FULL_SCALE = 0.35
# The "inferno"-like ramp: black → purple → orange → pale yellow.
_RAMP = np.array([(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)], dtype=np.float32)


@dataclass(frozen=True)
class StyleFreedom:
    spread: np.ndarray  # (H, W) float32: std over the samples, averaged over RGB, pixels in [0, 1]
    heat_map: Image.Image  # the spread in colour over the darkened content, RGB at model size
    samples: list[Image.Image]  # the N translations it came from

    @property
    def mean(self) -> float:
        """Mean spread over the image: one number for "how free is the style here"."""
        return float(self.spread.mean())


def spread(images: Sequence[Image.Image]) -> np.ndarray:
    """(H, W) per-pixel standard deviation across `images` (same size), averaged over RGB, in [0, 0.5]."""
    if len(images) < 2:
        raise ValueError(f"the spread needs at least 2 images, got {len(images)}")
    stack = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images])  # (N, H, W, 3)
    return stack.std(axis=0).mean(axis=-1)


def colorize(values: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] → (H, W, 3) uint8 along the dark-to-bright ramp."""
    x = np.clip(values, 0.0, 1.0) * (len(_RAMP) - 1)
    low = np.minimum(x.astype(np.int64), len(_RAMP) - 2)
    t = (x - low)[..., None]
    return np.round(_RAMP[low] * (1 - t) + _RAMP[low + 1] * t).astype(np.uint8)


def heat_map(values: np.ndarray, content: Image.Image, full_scale: float = FULL_SCALE) -> Image.Image:
    """The spread as colour over a dim grey copy of the content, so regions stay recognisable."""
    heat = colorize(values / full_scale).astype(np.float32)
    grey = np.asarray(content.convert("L").resize(values.shape[::-1]), dtype=np.float32)[..., None]
    return Image.fromarray(np.round(0.8 * heat + 0.2 * grey).astype(np.uint8), "RGB")


def style_freedom(pipe: TranslationPipeline, content: Content, modalities: Sequence[str] | None = None,
                  strengths: Mapping[str, float] | None = None, n: int = 8, seed: int = 0,
                  domain: int | str = 0) -> StyleFreedom:  # fmt: skip
    """`content` under `n` (>= 2) styles sampled from the checkpoint, in one batch, and their spread."""
    samples = pipe.render(content, pipe.sample_styles(n, seed, domain), modalities, strengths)
    values = spread(samples)
    return StyleFreedom(values, heat_map(values, content.image), samples)
