"""What the pipeline's Python API takes from a caller that never went through the app: PIL images in
any mode are converted as uploads are, and style vectors of the wrong size or with NaN are refused
with a UsageError instead of being reshaped into other styles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.config import tiny_config
from sensorium.model import Sensorium
from sensorium.pipeline import TranslationPipeline, UsageError


@pytest.fixture(scope="module")
def pipe():
    return TranslationPipeline(Sensorium(tiny_config()).eval(), device="cpu", runtime="eager")


def test_images_are_converted_as_uploads_are(pipe):
    """Transparency is white (not black) and 16-bit is scaled (not clipped to white), for the senses
    and the style alike (both go through `prepare`)."""
    clear = pipe.prepare(Image.new("RGBA", (32, 32), (0, 0, 0, 0)), 16)
    assert np.asarray(clear).min() == 255
    deep = pipe.prepare(Image.fromarray(np.full((32, 32), 30000, np.uint16)), 16)
    assert np.asarray(deep).max() == round(30000 / 65535 * 255)


def test_style_vectors_of_the_wrong_size_or_not_finite_are_refused(pipe):
    image, size = Image.new("RGB", (32, 32), "red"), pipe.config.style_dim
    assert pipe(image, torch.zeros(size), ["edges"], resolution=16).image.size == (16, 16)
    for bad, message in [(torch.zeros(4 * size), f"must have {size} numbers"), (torch.zeros(size + 1), f"got \\({size + 1},\\)"),
                         (torch.full((size,), float("nan")), "finite")]:  # fmt: skip
        with pytest.raises(UsageError, match=message):
            pipe(image, bad, ["edges"], resolution=16)
    with pytest.raises(UsageError, match="Mix must be a number"):
        pipe(image, image, ["edges"], resolution=16, style_b=image, mix=10**400)


def test_bf16_on_the_cpu_runs_eager_as_the_fast_runtimes_are_fp32_only():
    model = Sensorium(tiny_config()).eval()
    auto = TranslationPipeline(model, device="cpu", precision="bf16", runtime="auto")
    assert auto.runtime.name == "eager" and auto.runtime_note == ""
    fused = TranslationPipeline(model, device="cpu", precision="bf16", runtime="fused")
    assert fused.runtime.name == "eager" and "fused runs fp32 only" in fused.runtime_note
