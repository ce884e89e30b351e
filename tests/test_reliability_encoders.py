"""Property-based fuzzing of the map encoders: whatever a sense hands over, the model's input
keeps its contract (float32 in [0, 1], fixed channel counts, presence matching the maps).

Covers conditioning.stack_maps, the segmentation binary label code, the face-parsing one-hot
(label folding, painting from a face mesh), and skeleton / contour / polygon rasterising. The
image loader has its own corpus and fuzzing in tests/test_images.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sensorium.conditioning import expand_presence, stack_maps
from sensorium.modalities import FACE_PARSING_CLASSES, FACE_PARTS, MODALITIES, POSE_PARTS
from sensorium.senses.draw import clip_segments, draw_segments, fill_polygons
from sensorium.senses.face_landmarks import FACE_PART_COLORS
from sensorium.senses.face_parsing import face_parsing_preview, fold_label, one_hot
from sensorium.senses.palette import argmax_channels, channels_preview
from sensorium.senses.segmentation import decode_labels, encode_labels
from sensorium.senses.skeleton import LIMBS, MIN_CONFIDENCE, render_skeleton, skeleton_preview

# database=None: no .hypothesis/ folder in the repo; failures still print a reproducible example
FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
sizes = st.tuples(st.integers(1, 24), st.integers(1, 24))  # (H, W)
unit = st.floats(0, 1, width=32)


def in_unit_range(x: np.ndarray | torch.Tensor) -> bool:
    x = torch.as_tensor(x)
    return x.dtype == torch.float32 and bool(torch.isfinite(x).all()) and x.min() >= 0 and x.max() <= 1


# -- stack_maps ---------------------------------------------------------------------------------
@st.composite
def stack_inputs(draw):
    modalities = draw(st.lists(st.sampled_from(sorted(MODALITIES)), min_size=1, max_size=8, unique=True))
    size = draw(sizes)
    given_ = draw(st.lists(st.sampled_from(modalities), unique=True))
    maps = {m: torch.from_numpy(draw(hnp.arrays(np.float32, (MODALITIES[m].channels, *size), elements=unit)))
            for m in given_}  # fmt: skip
    strengths = draw(st.dictionaries(st.sampled_from(modalities), st.floats(-2, 2, allow_nan=False)))
    return modalities, size, maps, strengths


@FUZZ
@given(stack_inputs())
def test_stack_maps_keeps_channel_order_presence_and_strength(args):
    modalities, size, maps, strengths = args
    stacked, presence = stack_maps(maps, modalities, size, strengths)
    assert stacked.shape == (1, sum(MODALITIES[m].channels for m in modalities), *size) and stacked.dtype == torch.float32
    assert presence.shape == (1, len(modalities))
    start = 0
    for i, m in enumerate(modalities):
        part = stacked[0, start : start + MODALITIES[m].channels]
        start += MODALITIES[m].channels
        s = strengths.get(m, 1.0)
        on = m in maps and s > 0
        assert presence[0, i] == float(on), m
        assert torch.equal(part, maps[m] * s if on else torch.zeros_like(part)), m
    # The model masks channels with expand_presence: an absent modality must be exactly zero.
    mask = expand_presence(presence, modalities)[0]
    assert not stacked[0][mask == 0].any()


@FUZZ
@given(stack_inputs(), st.integers(0, 2), st.integers(1, 3))
def test_stack_maps_names_the_modality_of_a_wrong_shaped_map(args, axis, extra):
    modalities, size, _, _ = args
    m = modalities[0]
    shape = [MODALITIES[m].channels, *size]
    shape[axis] += extra
    with pytest.raises(ValueError, match=f"{m} map has shape"):
        stack_maps({m: torch.zeros(shape)}, modalities, size)


# -- segmentation: label -> 16-bit binary code of label + 1 --------------------------------------
labels_2d = hnp.arrays(np.int64, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.integers(0, 65534))


@FUZZ
@given(labels_2d, st.sampled_from([torch.int64, torch.int32]))
def test_label_code_round_trips_and_never_uses_the_empty_code(labels, dtype):
    t = torch.from_numpy(labels).to(dtype)
    code = encode_labels(t)
    assert code.shape == (16, *labels.shape) and in_unit_range(code)
    assert set(code.unique().tolist()) <= {0.0, 1.0}
    assert code.sum(0).min() >= 1  # all-zeros is reserved for "no map"
    assert torch.equal(decode_labels(code), torch.from_numpy(labels))


@FUZZ
@given(hnp.arrays(np.float32, st.tuples(st.just(16), st.integers(1, 8), st.integers(1, 8)), elements=unit))
def test_decoding_any_map_gives_valid_labels(planes):
    labels = decode_labels(torch.from_numpy(planes))
    assert labels.shape == planes.shape[1:] and labels.min() >= -1 and labels.max() <= 65534
    valid = labels >= 0  # -1: no bit above 0.5
    assert torch.equal(valid, torch.from_numpy(planes > 0.5).any(0))
    if valid.any():
        assert torch.equal(
            encode_labels(labels.clamp(min=0))[:, valid], torch.from_numpy(planes > 0.5).float()[:, valid]
        )


@pytest.mark.parametrize("bad", [-1, 65535, 70000])
def test_out_of_range_labels_are_refused_not_wrapped_to_the_empty_code(bad):
    with pytest.raises(AssertionError, match="labels must be in"):
        encode_labels(torch.tensor([[0, bad]]))


# -- face parsing: one-hot over FACE_PARSING_CLASSES ----------------------------------------------
@FUZZ
@given(hnp.arrays(np.int64, sizes, elements=st.integers(0, len(FACE_PARSING_CLASSES) - 1)))
def test_face_parsing_one_hot_has_exactly_one_class_per_pixel(classes):
    t = one_hot(torch.from_numpy(classes))
    assert t.shape == (len(FACE_PARSING_CLASSES), *classes.shape) and in_unit_range(t)
    assert torch.equal(t.sum(0), torch.ones(classes.shape))
    assert torch.equal(argmax_channels(t), torch.from_numpy(classes))
    assert face_parsing_preview(t).size == classes.shape[::-1]


@FUZZ
@given(st.text(max_size=30))
def test_any_source_label_name_folds_into_a_known_class(name):
    assert 0 <= fold_label(name) < len(FACE_PARSING_CLASSES)


@settings(max_examples=15, deadline=None, database=None)
@given(hnp.arrays(np.float32, (478, 3), elements=st.floats(-0.5, 1.5, width=32)), sizes)
def test_painting_any_face_mesh_keeps_the_map_one_hot(landmarks, size):
    pytest.importorskip("mediapipe")
    from sensorium.senses.face_landmarks import render_contours
    from sensorium.senses.face_parsing_mesh import paint_face

    classes = np.zeros(size, np.int64)
    paint_face(classes, landmarks)
    t = one_hot(torch.from_numpy(classes))
    assert torch.equal(t.sum(0), torch.ones(size))
    contours = render_contours([landmarks], size)
    assert contours.shape == (len(FACE_PARTS), *size) and in_unit_range(contours)


# -- skeletons and polygons ---------------------------------------------------------------------
# (people, 18, 3): x, y normalised (off the map beyond [0, 1]) and a confidence
keypoints = hnp.arrays(np.float64, st.tuples(st.integers(0, 3), st.just(18), st.just(3)), elements=st.floats(-2, 3))


@FUZZ
@given(keypoints, sizes)
def test_skeleton_channels_follow_confident_limbs(people, size):
    out = render_skeleton(people, size)
    assert out.shape == (len(POSE_PARTS), *size) and in_unit_range(out)
    for k, pairs in enumerate(LIMBS.values()):
        confident = any(p[a, 2] >= MIN_CONFIDENCE and p[b, 2] >= MIN_CONFIDENCE for p in people for a, b in pairs)
        if not confident:
            assert not out[k].any(), POSE_PARTS[k]
    assert skeleton_preview(torch.from_numpy(out)).size == size[::-1]


@FUZZ
@given(keypoints, keypoints, sizes)
def test_more_people_never_erase_ink(a, b, size):
    both = render_skeleton(np.concatenate([a, b]), size)
    assert (both >= render_skeleton(a, size) - 1 / 255).all()


@FUZZ
@given(st.lists(st.tuples(st.floats(-200, 200), st.floats(-200, 200)), min_size=2, max_size=12), sizes,
       st.integers(1, 4), st.sampled_from(["left", "right", "above", "below"]))  # fmt: skip
def test_segments_wholly_off_the_map_draw_nothing(points, size, width, side):
    h, w = size
    margin = width + 2  # beyond the line's half-width and antialiasing
    shift = {"left": (-(200 + margin), 0), "right": (200 + w + margin, 0),
             "above": (0, -(200 + margin)), "below": (0, 200 + h + margin)}[side]  # fmt: skip
    off = [(x + shift[0], y + shift[1]) for x, y in points]
    segments = list(zip(off[:-1], off[1:], strict=True))
    assert not draw_segments(size, segments, width).any()
    assert not fill_polygons(size, [np.array(off)]).any()


@FUZZ
@given(st.lists(hnp.arrays(np.float64, st.tuples(st.integers(0, 8), st.just(2)), elements=st.floats(-30, 60)),
                max_size=3), sizes)  # fmt: skip
def test_polygon_masks_stay_in_unit_range(polygons, size):
    mask = fill_polygons(size, polygons)
    assert mask.shape == size and in_unit_range(mask)
    if all(len(p) < 3 for p in polygons):
        assert not mask.any()


# Regression: draw._fixed cast to int32, so NaN, inf and |x| > ~1.3e8 px wrapped around and drew on
# the wrong side; segments are now clipped to the canvas and non-finite points skipped.
@pytest.mark.parametrize("x", [np.nan, np.inf, 1e9])
def test_non_finite_or_far_right_keypoints_never_draw_left_of_the_body(x):
    people = np.zeros((1, 18, 3))
    people[0, :, :2], people[0, :, 2] = 0.5, 1.0  # every keypoint at the centre of a 32x32 map ...
    people[0, 0, 0] = x  # ... but the nose: missing (NaN) or far to the right
    with np.errstate(invalid="ignore"):
        out = render_skeleton(people, (32, 32))
    people[0, 0, 2] = 0.0
    without_nose = render_skeleton(people, (32, 32))
    assert np.array_equal(out[:, :, :14], without_nose[:, :, :14])  # left of the centre dot: untouched


def _clip_one(p, q, size, margin):
    """Liang-Barsky on one segment, written plainly: the reference `clip_segments` vectorises."""
    lo, hi = (-margin, -margin), (size[1] + margin, size[0] + margin)
    if not (np.isfinite(p).all() and np.isfinite(q).all()):
        return None
    d, t0, t1 = q - p, 0.0, 1.0
    for axis in range(2):
        if d[axis] == 0:
            if not lo[axis] <= p[axis] <= hi[axis]:
                return None
            continue
        with np.errstate(over="ignore"):
            ta, tb = sorted(((lo[axis] - p[axis]) / d[axis], (hi[axis] - p[axis]) / d[axis]))
        t0, t1 = max(t0, ta), min(t1, tb)
        if t0 > t1:
            return None
    return p + t0 * d, p + t1 * d


def test_clipping_all_segments_at_once_equals_clipping_each():
    rng = np.random.default_rng(0)
    ends = rng.uniform(-150, 250, (4000, 4))
    ends[::7, 2] = ends[::7, 0]  # vertical and horizontal segments, some outside their slab
    ends[::11, 3] = ends[::11, 1]
    for k, bad in enumerate((np.nan, np.inf, -np.inf, -1e12)):
        ends[k::29, k] = bad
    ends[::17, 1] = 1e9
    size, margin = (60, 90), 4
    starts, stops = clip_segments(ends[:, :2], ends[:, 2:], size, margin)
    expected = [c for c in (_clip_one(e[:2], e[2:], size, margin) for e in ends) if c is not None]
    assert len(expected) == len(starts) > 1000
    assert np.array_equal(np.array([a for a, _ in expected]), starts)
    assert np.array_equal(np.array([b for _, b in expected]), stops)


def test_channel_previews_take_each_pixels_brightest_channel_colour():
    maps = torch.rand(6, 40, 30, generator=torch.Generator().manual_seed(0)) * 1.4 - 0.2
    colours = FACE_PART_COLORS
    t = maps.clamp(0, 1).numpy()
    expected = (t[..., None] * colours[:, None, None, :].astype(np.float32)).max(axis=0).astype(np.uint8)
    assert np.array_equal(np.asarray(channels_preview(maps, colours)), expected)
