"""Face parsing into the compact FACE_PARSING_CLASSES (one-hot), from a transformers model.

Default: `jonathandinu/face-parsing` (SegFormer trained on CelebAMask-HQ, 19 classes). Its classes
are folded into ours by name: nose/ears/glasses -> skin, hair/hat/neck/cloth/jewellery -> person.
CelebAMask-HQ has no iris class, so the "irises" channel stays empty with this provider (the
face-mesh provider fills it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from ..modalities import FACE_PARSING_CLASSES
from .base import SenseMap
from .palette import argmax_channels, labels_preview
from .segmentation import logits_to_labels
from .transformers_sense import TransformersSense

DEFAULT_FACE_PARSING_MODEL = "jonathandinu/face-parsing"

CELEBAMASK_LABELS = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear",
    "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
)  # fmt: skip

FACE_PARSING_COLORS = np.array(
    [
        [0, 0, 0],  # background
        [90, 110, 160],  # person
        [235, 190, 160],  # skin
        [110, 60, 30],  # brows
        [250, 250, 250],  # eyes
        [40, 90, 230],  # irises
        [210, 40, 60],  # lips
        [110, 0, 20],  # mouth
    ],
    dtype=np.uint8,
)

_BY_KEYWORD = (  # first match wins; checked against lower-case label names
    (("background", "bg"), "background"),
    (("iris",), "irises"),
    (("brow",), "brows"),
    (("eye_g", "glass"), "skin"),
    (("eye",), "eyes"),
    (("lip",), "lips"),
    (("mouth", "teeth"), "mouth"),
    (("skin", "nose", "l_ear", "r_ear", "face"), "skin"),
)


def fold_label(name: str) -> int:
    """Index in FACE_PARSING_CLASSES for a source label name; anything unknown is "person"."""
    lower = name.lower()
    for keys, target in _BY_KEYWORD:
        if any(k == lower or (len(k) > 2 and k in lower) for k in keys):
            return FACE_PARSING_CLASSES.index(target)
    return FACE_PARSING_CLASSES.index("person")


def one_hot(classes: torch.Tensor, n: int = len(FACE_PARSING_CLASSES)) -> torch.Tensor:
    """(H, W) class indices -> (n, H, W) float32 one-hot."""
    return (classes[None] == torch.arange(n, device=classes.device)[:, None, None]).float()


def face_parsing_preview(tensor: torch.Tensor) -> Image.Image:
    return labels_preview(argmax_channels(tensor).cpu().numpy(), FACE_PARSING_COLORS)


class TransformersFaceParsing(TransformersSense):
    """Face parsing map (len(FACE_PARSING_CLASSES), H, W), one-hot, from a segmentation model."""

    modality = "face_parsing"
    name = "face-parsing-transformers"
    label = "face parsing (transformers)"  # an instance names its model
    channels = len(FACE_PARSING_CLASSES)
    auto_class = "AutoModelForSemanticSegmentation"
    env_var = "SENSORIUM_FACE_PARSING_MODEL"
    default_model = DEFAULT_FACE_PARSING_MODEL

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        self.label = f"face parsing ({self.model.rstrip('/').split('/')[-1]})"

    def _fold_table(self) -> torch.Tensor:
        config = self._bundle.model.config  # type: ignore[union-attr]
        names = [str(config.id2label.get(i, "")) for i in range(config.num_labels)]
        if all(n.startswith("LABEL_") for n in names) and len(names) == len(CELEBAMASK_LABELS):
            names = list(CELEBAMASK_LABELS)  # unnamed CelebAMask-HQ export
        return torch.tensor([fold_label(n) for n in names], dtype=torch.long)

    def _postprocess(self, outputs: object, images: Sequence[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        table = self._fold_table()
        background = FACE_PARSING_CLASSES.index("background")
        maps = []
        for labels in logits_to_labels(outputs.logits, size):  # type: ignore[attr-defined]
            classes = table[labels]
            found = bool((classes != background).any())
            t = one_hot(classes)
            note = "" if found else "no face or person found"
            maps.append(SenseMap(self.modality, t, self.preview(t), found, note))
        return maps

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return face_parsing_preview(tensor)
