"""Your own maps in the app: per sense a choice of the detected map or your own, an upload or a
paint/erase editor over the detected preview, and the API's `map_<modality>` inputs.

The editors hold pictures in each map's preview encoding (the colours the maps gallery shows);
`sensorium.senses.codec` decodes them, so what you paint is what the model gets.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

from .state import DemoState

DETECTED, MINE = "detected", "my map"


def api_parameter(modality: str) -> str:
    """The /translate parameter that carries an own map, e.g. map_person."""
    return f"map_{modality}"


def with_map_parameters(modalities: Sequence[str]) -> Callable[[Callable], Callable]:
    """A decorator: `fn(…, *maps)` gets one named, optional `map_<modality>` parameter per modality
    in its signature, so gradio's API lists them by name (gradio reads parameter names from it)."""

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
        extra = [inspect.Parameter(api_parameter(m), inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
                 for m in modalities]  # fmt: skip
        fn.__signature__ = signature.replace(parameters=[*fixed, *extra])
        return fn

    return decorate


def maps_by_modality(state: DemoState, values: Sequence) -> dict:
    """The positional map values of /translate (one per checkpoint modality) as modality → upload."""
    return {m: v for m, v in zip(state.modalities, values, strict=True) if v is not None}
