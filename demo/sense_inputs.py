"""The senses panel as one input: which components, in which order, and what their values mean.

The result, the contribution grid, the style-freedom heat map, the random styles and the webcam all
render from the panel (ticks, strengths, map sources and own maps, sense settings). Each event takes
`components()` as its inputs, live events listen to `triggers()`, and the handler hands the values
to `read`, so the order of the panel's inputs has this one home.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sensorium.senses.settings import SenseSettings

from . import own_maps, sense_settings


@dataclass(frozen=True)
class SenseRequest:
    """What the panel asks for: the ticked modalities, every modality's strength, the own maps of
    ticked cards set to "my map", and the sense settings (None where the event does not take them)."""

    use: list[str]
    strengths: dict[str, float]
    maps: dict = field(default_factory=dict)
    settings: SenseSettings | None = None


class SensePanel:
    """The panel's components, as demo/ui.py built them into its `ui` dict."""

    def __init__(self, modalities: Sequence[str], ui: dict):
        self.modalities = list(modalities)
        self.checks, self.strengths = list(ui["checks"]), list(ui["strengths"])
        self.sources, self.own, self.settings = dict(ui["sources"]), dict(ui["own"]), list(ui["settings"])

    def components(self, with_maps: bool = True, with_settings: bool = True) -> list:
        """The inputs in `read`'s order: ticks, strengths, [map sources, own maps], [sense settings]."""
        maps = [*self.sources.values(), *self.own.values()] if with_maps else []
        return [*self.checks, *self.strengths, *maps, *(self.settings if with_settings else [])]

    def triggers(self) -> list:
        """The events after which a live view re-renders: a tick, a strength let go, a map source or
        an own map changed, a sense setting changed."""
        return [*(c.change for c in self.checks), *(s.release for s in self.strengths),
                *(r.change for r in self.sources.values()), *(e.input for e in self.own.values()),
                *sense_settings.triggers(self.settings)]  # fmt: skip

    def read(self, values: Sequence, with_maps: bool = True, with_settings: bool = True,
             warn: bool = True) -> SenseRequest:  # fmt: skip
        """The values of `components(with_maps, with_settings)` as a request. `warn=False` for the
        panels that follow the result, whose own event already warned about a missing own map."""
        k = len(self.modalities)
        ticks, strengths, rest = values[:k], values[k : 2 * k], values[2 * k :]
        use = [m for m, on in zip(self.modalities, ticks, strict=True) if on]
        maps: dict = {}
        if with_maps:
            n = len(self.sources) + len(self.own)
            maps, rest = own_maps.chosen_maps(self.sources, rest[:n], use, warn=warn), rest[n:]
        settings = sense_settings.parse(rest) if with_settings else None
        return SenseRequest(use, dict(zip(self.modalities, strengths, strict=True)), maps, settings)
