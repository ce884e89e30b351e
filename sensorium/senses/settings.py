"""What a person may tune about the senses: the Canny thresholds, HED instead of Canny (where its
weights are present) and the resolution the senses run at.

A SenseSet turns the edge settings into the sense it runs (`configured`), and that sense's
`settings` are part of the map cache key, so changing them re-runs only the edges sense. The
detection resolution is the pipeline's: the senses run on the content prepared at that size and
their maps are resampled to the model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CANNY_MAX = 1000.0  # thresholds are on the L2 gradient magnitude of an 8-bit image (Sobel 3×3)


@dataclass(frozen=True)
class SenseSettings:
    canny_low: float | None = None  # Canny's lower hysteresis threshold; None = 0.4 × high
    canny_high: float | None = None  # Canny's upper threshold; None = per image (90th percentile of |grad|)
    edges: Literal["auto", "canny", "hed"] = "auto"  # which edge sense; auto = the registry's choice
    detect_resolution: int | None = None  # long side the senses run at; None = the output size

    def __post_init__(self) -> None:
        for name in ("canny_low", "canny_high"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= float(value) <= CANNY_MAX:
                raise ValueError(f"{name} must be from 0 to {CANNY_MAX:g}, got {value!r}")
        if self.canny_low is not None and self.canny_high is not None and self.canny_low > self.canny_high:
            raise ValueError(f"canny_low ({self.canny_low:g}) must not exceed canny_high ({self.canny_high:g})")
        if self.edges not in ("auto", "canny", "hed"):
            raise ValueError(f"edges must be 'auto', 'canny' or 'hed', got {self.edges!r}")
        if self.detect_resolution is not None and (isinstance(self.detect_resolution, bool)
                                                   or not 32 <= int(self.detect_resolution) <= 2048):  # fmt: skip
            raise ValueError(f"detect_resolution must be from 32 to 2048 px, got {self.detect_resolution!r}")

    @property
    def edges_provider(self) -> str | None:
        """The edges provider these settings ask for (None: whichever the registry resolves)."""
        return {"canny": "edges-canny", "hed": "edges-hed"}.get(self.edges)
