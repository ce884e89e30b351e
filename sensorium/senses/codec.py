"""Each modality's picture and its way back: `preview` draws a map (C, H, W) as the RGB image the
app shows, `decode` reads such an image (or a person's own map drawn the same way) back into the
model's channels. `CODECS` is the one home of both, one `MapCodec` per modality.

Readable encodings: masks and depth as grey levels (depth also in its turbo colours, the person
mask also in its orange), face parsing and segmentation through their palettes (nearest colour),
edges as line images (dark lines on white are inverted), pose and face landmarks in the app's
part colours, and pose also as an OpenPose-style skeleton image (its limb colours name the limbs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..images import to_rgb
from ..modalities import FACE_PARSING_CLASSES, MODALITIES
from .base import SenseMap
from .colour_decode import channel_colours, distinct, is_grey, nearest, snapped_share
from .face_landmarks import FACE_PART_COLORS
from .face_parsing import FACE_PARSING_COLORS, face_parsing_preview, one_hot
from .openpose_colours import OPENPOSE_PALETTE, OPENPOSE_PARTS
from .palette import _turbo_lut, channels_preview, scalar_preview
from .person import PERSON_COLOR, person_preview
from .segmentation import decode_labels, encode_labels, segmentation_colours, segmentation_preview
from .senseset import Extraction
from .skeleton import POSE_COLORS, skeleton_preview

Decoded = tuple[torch.Tensor, list[str]]  # (C, H, W) float32 in [0, 1], notes for people


@dataclass(frozen=True)
class MapCodec:
    """How one modality's map is drawn for people and read back from such a drawing."""

    preview: Callable[[torch.Tensor], Image.Image]  # (C, H, W) -> RGB picture
    decode: Callable[[np.ndarray], Decoded]  # (H, W, 3) uint8 -> channels at the picture's size
    resample: Literal["smooth", "labels", "lines"]  # how a map of another size is brought to the model's
    # Whether a map holds anything; an empty one leaves its slot absent (face parsing: a non-background class).
    found: Callable[[torch.Tensor], bool] = lambda t: bool(t.max() > 0)


SNAP_NOTE_SHARE = 0.001  # below 0.1 % of pixels (antialiased crossings of lines) snapping goes unmentioned


def _snap_note(share: float, what: str) -> list[str]:
    return [f"{share:.1%} of its pixels were not {what} and were snapped to the nearest"] if share >= SNAP_NOTE_SHARE else []


def _plane(values: np.ndarray, inverse: np.ndarray) -> torch.Tensor:
    """Per-colour values (U,) or (U, K) back to an image (1 or K, H, W)."""
    image = values[inverse]  # (H, W) or (H, W, K)
    image = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))


def decode_scalar(rgb: np.ndarray) -> Decoded:
    """Depth: grey levels (white = near) or turbo colours, pixel by pixel; black is 0."""
    colours, inverse, counts = distinct(rgb)
    lut = _turbo_lut()
    index, dist = nearest(colours, lut)
    grey = is_grey(colours)
    values = np.where(grey, colours.mean(1) / 255.0, index / 255.0)
    dist[grey] = 0.0
    return _plane(values, inverse), _snap_note(snapped_share(dist, counts), "grey levels or turbo colours")


def decode_person(rgb: np.ndarray) -> Decoded:
    """Person mask: grey levels (white = person) or the preview's orange at any brightness."""
    colours, inverse, counts = distinct(rgb)
    c = PERSON_COLOR.astype(np.float32)
    grey = is_grey(colours)
    along = np.clip(colours @ c / float(c @ c), 0.0, 1.0)
    # The preview stores alpha · colour truncated to bytes; the red channel (255) reads alpha best.
    along = np.where(np.abs(colours[:, 0] / 255.0 - along) < 0.02, colours[:, 0] / 255.0, along)
    dist = np.linalg.norm(colours - along[:, None] * c, axis=1)
    dist[grey] = 0.0
    values = np.where(grey, colours.mean(1) / 255.0, along)
    return _plane(values, inverse), _snap_note(snapped_share(dist, counts), "grey or the person colour")


def decode_edges(rgb: np.ndarray) -> Decoded:
    """Edges: bright lines on black; a mostly bright picture (dark lines on white) is inverted."""
    grey = rgb.astype(np.float32).mean(2) / 255.0
    if float(np.median(grey)) > 0.5:
        return torch.from_numpy(1.0 - grey)[None].contiguous(), ["dark lines on a light background were inverted"]
    return torch.from_numpy(grey)[None].contiguous(), []


def decode_face_parsing(rgb: np.ndarray) -> Decoded:
    colours, inverse, counts = distinct(rgb)
    index, dist = nearest(colours, FACE_PARSING_COLORS)
    classes = torch.from_numpy(index[inverse])
    return one_hot(classes), _snap_note(snapped_share(dist, counts), "face-parsing colours")


def decode_segmentation(rgb: np.ndarray) -> Decoded:
    """Segmentation: the preview's label colours (black = no label, which stays all-zero code)."""
    colours, inverse, counts = distinct(rgb)
    index, dist = nearest(colours, segmentation_colours())
    labels = torch.from_numpy(index[inverse] - 1)  # colour 0 is "no label"
    code = encode_labels(labels.clamp(min=0)) * (labels >= 0)
    return code, _snap_note(snapped_share(dist, counts), "segmentation label colours")


def channel_decoder(palette: np.ndarray, what: str) -> Callable[[np.ndarray], Decoded]:
    def decode(rgb: np.ndarray) -> Decoded:
        colours, inverse, counts = distinct(rgb)
        values, residual = channel_colours(colours, palette)
        return _plane(values, inverse), _snap_note(snapped_share(residual, counts), what)

    return decode


_decode_own_pose = channel_decoder(POSE_COLORS, "skeleton part colours")


def decode_pose(rgb: np.ndarray) -> Decoded:
    """Pose: the app's skeleton colours, or an OpenPose-style image, whichever explains it better."""
    colours, inverse, counts = distinct(rgb)
    drawn = colours.max(1) > 16  # the background does not vote
    if not drawn.any():
        return torch.zeros(len(POSE_COLORS), *rgb.shape[:2]), []
    _, own_residual = channel_colours(colours[drawn], POSE_COLORS)
    index, dist = nearest(colours, OPENPOSE_PALETTE)
    weights = counts[drawn]
    if float((dist[drawn] * weights).sum()) >= float((own_residual * weights).sum()):
        return _decode_own_pose(rgb)
    groups = np.zeros((len(colours), len(POSE_COLORS)), dtype=np.float32)
    groups[np.arange(len(colours)), OPENPOSE_PARTS[index].clip(min=0)] = 1.0
    groups[OPENPOSE_PARTS[index] < 0] = 0.0  # palette entry 0 is OpenPose's black canvas
    notes = ["read as an OpenPose skeleton image (limb colours → parts)"]
    return _plane(groups, inverse), notes + _snap_note(snapped_share(dist, counts), "OpenPose colours")


def edges_preview(tensor: torch.Tensor) -> Image.Image:
    arr = (tensor[:1].clamp(0, 1).squeeze(0).cpu().numpy() * 255).astype(np.uint8)
    return Image.fromarray(arr).convert("RGB")


CODECS: dict[str, MapCodec] = {
    "depth": MapCodec(scalar_preview, decode_scalar, "smooth"),
    "segmentation": MapCodec(lambda t: segmentation_preview(decode_labels(t).numpy()), decode_segmentation, "labels"),
    "face_parsing": MapCodec(face_parsing_preview, decode_face_parsing, "labels",
                             found=lambda t: bool(t[FACE_PARSING_CLASSES.index("background") + 1 :].max() > 0)),
    "face_depth": MapCodec(lambda t: scalar_preview(t, mask_zero=True), decode_scalar, "smooth"),
    "person": MapCodec(person_preview, decode_person, "smooth"),
    "pose": MapCodec(skeleton_preview, decode_pose, "lines"),
    "face_landmarks": MapCodec(lambda t: channels_preview(t, FACE_PART_COLORS),
                               channel_decoder(FACE_PART_COLORS, "landmark part colours"), "lines"),
    "edges": MapCodec(edges_preview, decode_edges, "lines"),
}  # fmt: skip
assert set(CODECS) == set(MODALITIES), "every modality needs a codec"


@dataclass(frozen=True)
class DecodedMap:
    """A map read from a picture: tensor (C, H, W) at the requested size, notes, and emptiness."""

    tensor: torch.Tensor
    notes: tuple[str, ...]
    empty: bool


def resample(tensor: torch.Tensor, size: tuple[int, int], kind: str) -> torch.Tensor:
    """(C, h, w) -> (C, H, W): labels by nearest, lines by max-pool (shrinking) or nearest, else bilinear."""
    x = tensor[None]
    if kind == "labels" or (kind == "lines" and size[0] >= x.shape[2] and size[1] >= x.shape[3]):
        x = F.interpolate(x, size=size, mode="nearest-exact")
    elif kind == "lines":
        x = F.adaptive_max_pool2d(x, size)
    else:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    return x[0].contiguous()


def decode_map(modality: str, picture: Image.Image | np.ndarray | torch.Tensor, size: tuple[int, int]) -> DecodedMap:
    """A map for `modality` at `size` (H, W) from a picture in its encoding (or a (C, h, w) tensor).

    A picture of another size is resized (with a note; a different aspect ratio is stretched, and
    says so). Raises ValueError for an unknown modality or a tensor with the wrong channel count.
    """
    if modality not in CODECS:
        raise ValueError(f"unknown modality {modality!r}; known: {', '.join(CODECS)}")
    codec, notes = CODECS[modality], []
    if isinstance(picture, torch.Tensor):
        channels = MODALITIES[modality].channels
        if picture.ndim != 3 or picture.shape[0] != channels:
            raise ValueError(f"a {modality} map tensor must be ({channels}, H, W), got {tuple(picture.shape)}")
        tensor = picture.detach().float().cpu().clamp(0, 1)
    else:
        image = to_rgb(Image.fromarray(picture) if isinstance(picture, np.ndarray) else picture)
        tensor, notes = codec.decode(np.asarray(image, dtype=np.uint8))
    h, w = tensor.shape[1:]
    if (h, w) != tuple(size):
        notes.append(f"resized from {w}×{h} to {size[1]}×{size[0]} px")
        if abs(w / h - size[1] / size[0]) > 0.02 * size[1] / size[0]:
            notes.append("its aspect ratio differs from the content image's, so it was stretched")
        tensor = resample(tensor, tuple(size), codec.resample)
    return DecodedMap(tensor, tuple(notes), not codec.found(tensor))


def resampled(maps: Extraction, size: tuple[int, int]) -> Extraction:
    """The maps brought to `size` (H, W) by each modality's resampling, previews redrawn: maps
    detected at another resolution, ready for the model."""
    out = Extraction()
    out.notes, out.seconds = dict(maps.notes), dict(maps.seconds)
    for m, smap in maps.items():
        if tuple(smap.tensor.shape[1:]) == tuple(size):
            out[m] = smap
            continue
        tensor = resample(smap.tensor, tuple(size), CODECS[m].resample)
        out[m] = SenseMap(m, tensor, CODECS[m].preview(tensor), smap.found, smap.note, smap.extras)
    return out
