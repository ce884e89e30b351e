"""Senses: off-the-shelf extractors that turn an image into the conditioning maps ("content").

    from sensorium.senses import SenseSet
    maps = SenseSet(["depth", "pose", "edges"]).extract(image, size=256)
    maps["pose"].tensor   # (6, 256, 256) float32 in [0, 1]; maps.notes explains what is missing

Importing this package loads no model and no heavy library (mediapipe, transformers, OpenCV).
"""

from .base import Availability, Sense, SenseMap, SenseUnavailable
from .map_cache import MapCache, image_hash
from .registry import SenseChoice, all_providers, get_sense, list_senses, register_sense
from .senseset import Extraction, SenseSet

__all__ = [
    "all_providers",
    "register_sense",
    "Availability",
    "Extraction",
    "MapCache",
    "Sense",
    "SenseChoice",
    "SenseMap",
    "SenseSet",
    "SenseUnavailable",
    "get_sense",
    "image_hash",
    "list_senses",
]
