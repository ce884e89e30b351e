"""Your own maps: every modality's preview decodes back to its map (real maps from the astronaut,
tiny random transformers models for depth and segmentation), OpenPose-style skeleton images read
into our pose channels, bad maps give notes or clear errors, and the pipeline uses an own map
instead of the sense's without extracting it."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.modalities import FACE_PARSING_CLASSES, MODALITIES, POSE_PARTS
from sensorium.pipeline import UsageError
from sensorium.senses import SenseSet
from sensorium.senses.codec import CODECS, decode_map

from .app_fixtures import CONTENT, STYLE, tiny_pipeline, torch_threads
from .senses_fixtures import astronaut, make_tiny_depth, make_tiny_segformer

SIZE = (256, 256)

# Stated round-trip tolerances (detected map → preview → decode), measured on the astronaut at 256²:
# max |error| over all pixels, and for line maps the share of pixels off by more than 2/255 (where
# two parts' antialiased lines cross, the preview keeps only the per-component max of their colours).
MAX_ERROR = {
    "depth": 3 / 255,  # turbo's 256 colours: one step, and two near-duplicate entries at the ends
    "face_depth": 3 / 255,
    "person": 5 / 255,  # the preview stores alpha · orange truncated to bytes
    "segmentation": 0.0,  # palettes are exact
    "face_parsing": 0.0,
    "edges": 0.0,  # Canny is binary
}
LINE_SHARE = {"pose": 1e-3, "face_landmarks": 1e-3}  # ≤ 0.1 % of pixels off by more than 2/255


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    overrides = {"depth": str(make_tiny_depth(root / "depth")), "segmentation": str(make_tiny_segformer(root / "seg"))}
    maps = SenseSet(tuple(MODALITIES), overrides=overrides).extract(astronaut(), SIZE)
    assert set(maps) == set(MODALITIES), maps.notes
    return maps


@pytest.mark.parametrize("modality", list(MODALITIES))
def test_every_modality_round_trips_through_its_preview(modality, detected):
    smap = detected[modality]
    picture = CODECS[modality].preview(smap.tensor)
    assert np.array_equal(np.asarray(picture), np.asarray(smap.preview)), "the codec draws what the sense shows"
    decoded = decode_map(modality, picture, SIZE)
    assert decoded.tensor.shape == smap.tensor.shape and not decoded.empty and decoded.notes == ()
    error = (decoded.tensor - smap.tensor).abs()
    if modality in LINE_SHARE:
        assert float((error > 2 / 255).float().mean()) <= LINE_SHARE[modality]
        assert float(error.mean()) < 1e-3
    else:
        assert float(error.max()) <= MAX_ERROR[modality] + 1e-6


def test_an_openpose_skeleton_image_reads_into_our_limbs(detected):
    from controlnet_aux.open_pose.body import Keypoint
    from controlnet_aux.open_pose.util import draw_bodypose

    from sensorium.senses.skeleton import render_skeleton

    people = detected["pose"].extras["keypoints"]
    points = [Keypoint(x, y, c, i) if c >= 0.5 else None for i, (x, y, c) in enumerate(people[0])]
    picture = draw_bodypose(np.zeros((*SIZE, 3), np.uint8), points)  # ControlNet's own drawing
    decoded = decode_map("pose", picture, SIZE)
    assert any("OpenPose" in n for n in decoded.notes)
    ours = torch.from_numpy(render_skeleton(people, SIZE))
    both = (decoded.tensor.amax(0) > 0) & (ours.amax(0) > 0)
    assert both.sum() > 500  # the two drawings overlap along the limbs
    agree = (decoded.tensor.argmax(0) == ours.argmax(0))[both].float().mean()
    assert agree > 0.9, f"only {agree:.0%} of the shared pixels name the same part"
    visible = {POSE_PARTS[k] for k in range(len(POSE_PARTS)) if ours[k].any()}
    assert visible and visible == {POSE_PARTS[k] for k in range(len(POSE_PARTS)) if decoded.tensor[k].any()}


def test_grey_masks_and_depth_and_dark_line_drawings():
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (32, 1))
    grey = Image.fromarray(ramp).convert("RGB")
    for modality in ("person", "depth"):
        decoded = decode_map(modality, grey, (32, 64))
        np.testing.assert_allclose(decoded.tensor[0].numpy(), ramp / 255.0, atol=1e-6)
    drawing = np.full((32, 64, 3), 255, np.uint8)
    drawing[16, 8:56] = 0  # one black line on white paper
    edges = decode_map("edges", drawing, (32, 64))
    assert any("inverted" in n for n in edges.notes)
    assert edges.tensor[0, 16, 8:56].min() == 1.0 and edges.tensor.sum() == 48


def test_wrong_size_is_resized_with_a_note(detected):
    picture = CODECS["face_parsing"].preview(detected["face_parsing"].tensor).resize((128, 96), Image.NEAREST)
    decoded = decode_map("face_parsing", picture, SIZE)
    assert decoded.tensor.shape == (len(FACE_PARSING_CLASSES), *SIZE)
    assert any("resized from 128×96 to 256×256" in n for n in decoded.notes)
    assert any("stretched" in n for n in decoded.notes)
    assert torch.equal(decoded.tensor.sum(0), torch.ones(SIZE))  # still one class per pixel


def test_colours_outside_the_palette_are_snapped_with_a_note(detected):
    truth = detected["face_parsing"].tensor
    buf = io.BytesIO()
    CODECS["face_parsing"].preview(truth).save(buf, format="JPEG", quality=40)  # smeared, off-palette colours
    noisy = Image.open(buf)
    rng = np.random.default_rng(0)
    arr = np.asarray(noisy).copy()
    arr[rng.random(SIZE) < 0.02] = (0, 255, 0)  # and some paint no class has
    decoded = decode_map("face_parsing", arr, SIZE)
    assert any("snapped to the nearest" in n for n in decoded.notes)
    assert (decoded.tensor.argmax(0) == truth.argmax(0)).float().mean() > 0.9


def test_an_empty_map_is_empty():
    black = Image.new("RGB", (64, 64))
    for modality in MODALITIES:
        assert decode_map(modality, black, (64, 64)).empty, modality
    assert decode_map("face_parsing", CODECS["face_parsing"].preview(torch.eye(8)[0][:, None, None].expand(8, 4, 4)),
                      (4, 4)).empty  # all background  # fmt: skip


# -- the pipeline --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pipe():
    with torch_threads(1):
        yield tiny_pipeline()


def person_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = np.zeros((*size, 3), np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 255
    return Image.fromarray(mask)


def test_an_own_map_replaces_the_detected_one_without_extracting_it(pipe):
    content, style = Image.open(CONTENT), Image.open(STYLE)
    detected = pipe(content, style, resolution=128)
    misses = pipe.senses.cache.misses
    size = detected.maps["person"].tensor.shape[1:]
    own = person_mask(size, (10, 10, 60, 100))
    result = pipe(content, style, resolution=128, maps={"person": own})
    assert pipe.senses.cache.misses == misses + 1  # the decode; nothing extracted again
    assert result.maps["person"].extras["source"] == "own"
    assert torch.equal(result.maps["person"].tensor[0], torch.from_numpy(np.asarray(own)[..., 0] / 255.0).float())
    assert result.maps["edges"] is detected.maps["edges"]
    assert np.abs(np.asarray(result.image, float) - np.asarray(detected.image, float)).mean() > 1.0
    again = pipe(content, style, resolution=128, maps={"person": own}, modalities=["person", "edges"])
    assert pipe.senses.cache.misses == misses + 1  # the same map again: cached
    assert again.modalities == ("edges", "person")


def test_an_own_map_fills_a_slot_whose_sense_cannot_run_here(pipe):
    content = Image.open(CONTENT)
    plain = pipe.sense(content, 128)
    assert "depth" not in plain.maps  # the test pipeline's depth model is missing
    ramp = np.tile(np.linspace(0, 255, plain.size[1]).astype(np.uint8), (plain.size[0], 1))
    sensed = pipe.sense(content, 128, maps={"depth": Image.fromarray(ramp)})
    assert sensed.maps["depth"].found and "depth" in sensed.maps


def test_bad_own_maps_get_clear_messages(pipe, tmp_path):
    content, style = Image.open(CONTENT), Image.open(STYLE)
    junk = tmp_path / "mask.png"
    junk.write_text("not an image")
    with pytest.raises(UsageError, match="Your person map"):
        pipe(content, style, resolution=128, maps={"person": junk})
    with pytest.raises(UsageError, match="Unknown modality 'pose'"):
        pipe(content, style, resolution=128, maps={"pose": Image.new("RGB", (8, 8))})
    with pytest.raises(UsageError, match=r"\(1, H, W\)"):
        pipe(content, style, resolution=128, maps={"person": torch.zeros(2, 8, 8)})
    empty = pipe(content, style, resolution=128, maps={"person": Image.new("RGB", (40, 30))})
    assert "person" not in empty.maps and "person" not in empty.modalities
    assert any("person map is empty, so the person slot is absent" in n for n in empty.notes)
    clear = Image.new("RGBA", (40, 30), (255, 255, 255, 0))  # a mask exported on a transparent ground
    clear.paste((255, 255, 255, 255), (0, 0, 10, 30))
    masked = pipe(content, style, resolution=128, maps={"person": clear})
    assert 0.2 < masked.maps["person"].tensor.mean() < 0.3  # transparent is "nothing there", not white
    tensor = pipe(content, style, resolution=128, maps={"person": torch.ones(1, 16, 16)})
    assert any("resized from 16×16" in n for n in tensor.notes) and tensor.maps["person"].tensor.min() == 1.0
