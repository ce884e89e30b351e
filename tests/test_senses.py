"""Senses on CPU: tiny random transformers models (saved like hub checkpoints) for depth and
segmentation, mediapipe's bundled models and Canny on real photos from scikit-image."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.modalities import FACE_PARSING_CLASSES, MODALITIES, POSE_PARTS
from sensorium.senses import MapCache, SenseChoice, SenseSet, get_sense, image_hash, list_senses
from sensorium.senses.depth import TransformersDepth
from sensorium.senses.face_parsing import CELEBAMASK_LABELS, TransformersFaceParsing
from sensorium.senses.segmentation import TransformersSegmentation, decode_labels, encode_labels

from .senses_fixtures import ASTRONAUT_FACE_BOX, astronaut, coffee, make_tiny_depth, make_tiny_segformer, pooled

BUNDLED = ("face_parsing", "face_depth", "person", "pose", "face_landmarks", "edges")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tiny_models")
    return {
        "depth": str(make_tiny_depth(root / "depth")),
        "segmentation": str(make_tiny_segformer(root / "seg")),
        "face_parsing": str(make_tiny_segformer(root / "faceparse", list(CELEBAMASK_LABELS))),
    }


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return astronaut()


@pytest.fixture(scope="module")
def maps(photo) -> dict:
    """All bundled senses on the astronaut at 512², extracted once for the module."""
    out = SenseSet(BUNDLED).extract(photo, 512)
    assert set(out) == set(BUNDLED), out.notes
    return out


def check_contract(tensor: torch.Tensor, modality: str, size: tuple[int, int]) -> None:
    assert tensor.shape == (MODALITIES[modality].channels, *size)
    assert tensor.dtype == torch.float32
    assert float(tensor.min()) >= 0.0 and float(tensor.max()) <= 1.0
    assert torch.isfinite(tensor).all()


# -- transformers senses through tiny local models -----------------------------------------
def test_tiny_depth_loads_from_dir_and_keeps_contract(tiny_models, photo):
    sense = TransformersDepth(tiny_models["depth"])
    assert sense.available(), sense.available().reason
    m = sense(photo, (64, 80))
    check_contract(m.tensor, "depth", (64, 80))
    assert float(m.tensor.max()) == pytest.approx(1.0) and float(m.tensor.min()) == pytest.approx(0.0)
    assert torch.equal(m.tensor, sense(photo, (64, 80)).tensor)  # deterministic
    assert m.preview.size == (80, 64) and m.preview.mode == "RGB"


def test_depth_model_from_env_var(tiny_models, monkeypatch):
    monkeypatch.setenv("SENSORIUM_DEPTH_MODEL", tiny_models["depth"])
    sense = get_sense("depth")
    assert sense.model == tiny_models["depth"] and sense.available()


def test_tiny_segmentation_binary_code(tiny_models, photo):
    m = TransformersSegmentation(tiny_models["segmentation"])(photo, (48, 48))
    check_contract(m.tensor, "segmentation", (48, 48))
    assert set(torch.unique(m.tensor).tolist()) <= {0.0, 1.0}
    labels = decode_labels(m.tensor)
    assert labels.min() >= 0 and labels.max() < 150  # label + 1 code: never all zeros
    assert set(m.extras["labels"]) == set(torch.unique(labels).tolist())


def test_label_code_roundtrip():
    labels = torch.tensor([[0, 1, 149], [2, 255, 7]])
    code = encode_labels(labels)
    assert code.shape == (16, 2, 3) and code.sum(0).min() >= 1
    assert torch.equal(decode_labels(code), labels)


def test_tiny_face_parsing_is_one_hot(tiny_models, photo):
    sense = TransformersFaceParsing(tiny_models["face_parsing"])
    m = sense(photo, (40, 40))
    check_contract(m.tensor, "face_parsing", (40, 40))
    assert torch.equal(m.tensor.sum(0), torch.ones(40, 40))


# -- bundled senses on a real photo ---------------------------------------------------------
def test_face_landmarks_fall_on_the_face(maps):
    x0, y0, x1, y1 = ASTRONAUT_FACE_BOX
    t = maps["face_landmarks"].tensor
    ys, xs = torch.nonzero(t.sum(0) > 0.5, as_tuple=True)
    assert len(xs) > 500
    assert xs.min() >= x0 and xs.max() <= x1 and ys.min() >= y0 and ys.max() <= y1
    centre_y = [float(torch.nonzero(t[k] > 0.5)[:, 0].float().mean()) for k in range(t.shape[0])]
    parts = dict(zip(("oval", "brows", "eyes", "irises", "nose", "lips"), centre_y, strict=True))
    assert parts["brows"] < parts["eyes"] < parts["nose"] < parts["lips"]


def test_pose_finds_shoulders_below_the_face(maps):
    m = maps["pose"]
    assert m.found and m.tensor.shape[0] == len(POSE_PARTS)
    person = m.extras["keypoints"][0] * 512  # (18, 3) -> pixels (confidence column scaled too)
    x0, y0, x1, y1 = ASTRONAUT_FACE_BOX
    nose, r_shoulder, l_shoulder = person[0], person[2], person[5]
    assert x0 < nose[0] < x1 and y0 < nose[1] < y1
    assert r_shoulder[1] > y1 and l_shoulder[1] > y1  # shoulders below the face
    assert r_shoulder[0] < nose[0] < l_shoulder[0]  # facing the camera: her right is image left
    torso = m.tensor[POSE_PARTS.index("torso")]
    along = np.linspace(r_shoulder[:2], l_shoulder[:2], 20).round().astype(int)  # (20, 2) x, y
    assert torso[along[:, 1], along[:, 0]].min() > 0.5  # the shoulder line is drawn


def test_face_depth_peaks_near_the_nose(maps):
    t = maps["face_depth"].tensor[0]
    x0, y0, x1, y1 = ASTRONAUT_FACE_BOX
    inside = t[y0:y1, x0:x1]
    outside = t.clone()
    outside[y0:y1, x0:x1] = 0
    assert (inside > 0).float().mean() > 0.3 and not outside.any()  # zero outside the face
    y, x = divmod(int(t.argmax()), t.shape[1])
    nose = maps["face_landmarks"].extras["landmarks"][0][1, :2] * 512  # mesh point 1: nose tip
    assert abs(x - nose[0]) < 12 and abs(y - nose[1]) < 12
    assert float(t.max()) == pytest.approx(1.0) and float(t[t > 0].min()) >= 0.1 - 1e-6


def test_mesh_face_parsing_regions(maps):
    t = maps["face_parsing"].tensor
    assert torch.equal(t.sum(0), torch.ones(512, 512))  # one-hot
    area = {name: float(t[i].sum()) for i, name in enumerate(FACE_PARSING_CLASSES)}
    assert all(area[n] > 20 for n in FACE_PARSING_CLASSES), area
    assert area["person"] > area["skin"] > area["lips"] > area["irises"]
    x0, y0, x1, y1 = ASTRONAUT_FACE_BOX
    skin = t[FACE_PARSING_CLASSES.index("skin")].clone()
    skin[y0:y1, x0:x1] = 0
    assert not skin.any()  # no skin outside the face


def test_person_mask_covers_the_body(maps):
    t = maps["person"].tensor[0]
    assert t[300:400, 150:300].mean() > 0.9  # her chest
    assert t[:60, 420:].mean() < 0.1  # sky/flag corner


def test_canny_on_a_real_photo(maps):
    t = maps["edges"].tensor
    assert set(torch.unique(t).tolist()) <= {0.0, 1.0}
    assert 0.02 < float(t.mean()) < 0.2


@pytest.mark.parametrize("modality", BUNDLED)
def test_bundled_contracts(modality, maps, photo):
    senses = SenseSet([modality], cache=MapCache())
    check_contract(maps[modality].tensor, modality, (512, 512))
    again = senses.sense(modality)(photo, (512, 512))  # a fresh run, not the cache
    assert torch.equal(maps[modality].tensor, again.tensor)
    rect = senses.extract(photo, (96, 128))[modality].tensor
    check_contract(rect, modality, (96, 128))
    smaller = photo.resize((384, 384), Image.Resampling.LANCZOS)
    resized = senses.extract(smaller, 512)[modality].tensor
    diff = np.abs(pooled(resized) - pooled(maps[modality].tensor)).mean()
    assert diff < 0.05, diff  # same content at another resolution: same map up to interpolation


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_other_image_modes(mode, photo):
    image = photo.convert(mode)
    out = SenseSet(["face_landmarks", "edges"], cache=MapCache()).extract(image, 128)
    for m in ("face_landmarks", "edges"):
        check_contract(out[m].tensor, m, (128, 128))
    assert out["face_landmarks"].found


# -- failure handling and offline behaviour --------------------------------------------------
def test_no_person_gives_empty_pose_and_a_note():
    out = SenseSet(["pose", "face_landmarks"], cache=MapCache()).extract(coffee(), 64)
    assert not out["pose"].found and float(out["pose"].tensor.abs().sum()) == 0
    assert "no person" in out.notes["pose"]
    assert not out["face_landmarks"].found and "no face" in out.notes["face_landmarks"]


@pytest.mark.parametrize("missing", ["/nonexistent/sensorium-depth", "sensorium-test/no-such-depth-model"])
def test_missing_weights_are_named_while_others_run(missing, monkeypatch, photo):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    senses = SenseSet(["depth", "edges", "face_landmarks"], overrides={"depth": missing}, cache=MapCache())
    out = senses.extract(photo, 64)
    assert time.perf_counter() - start < 10
    assert "depth" not in out and {"edges", "face_landmarks"} <= set(out)
    note = out.notes["depth"]
    assert missing in note and "SENSORIUM_DEPTH_MODEL" in note
    status = senses.status()
    assert not status["depth"] and status["edges"] and missing in status["depth"].reason


def test_senses_side_by_side_give_the_maps_and_notes_of_one_after_another(tiny_models, photo):
    # Every bundled sense, a transformers one and a missing one: threads change nothing but time.
    mods = [*BUNDLED, "depth", "segmentation"]
    over = {"depth": tiny_models["depth"], "segmentation": "/nonexistent/sensorium-seg"}
    side = SenseSet(mods, overrides=over, cache=MapCache()).extract(photo, 128)
    line = SenseSet(mods, overrides=over, cache=MapCache(), parallel=False).extract(photo, 128)
    assert list(side) == list(line) == [m for m in mods if m != "segmentation"]  # modality order kept
    for m in line:
        assert torch.equal(side[m].tensor, line[m].tensor), m
    assert side.notes == line.notes and "/nonexistent/sensorium-seg" in side.notes["segmentation"]
    assert set(side.seconds) == set(line.seconds)


def test_a_checkpoints_trained_senses_go_first_and_a_pin_still_wins(tiny_models, monkeypatch, photo):
    # Both face parsers can run here; a model trained on mesh parsing must get mesh parsing.
    monkeypatch.setenv("SENSORIUM_FACE_PARSING_MODEL", tiny_models["face_parsing"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert SenseSet(["face_parsing"]).sense("face_parsing").name == "face-parsing-transformers"  # default order
    trained = SenseSet(["face_parsing", "pose"], preferred={"face_parsing": "face-parsing-mesh", "pose": "pose-openpose"})
    assert trained.sense("face_parsing").name == "face-parsing-mesh"
    # The trained provider cannot run (no OpenPose weights offline): the next one does, and says so.
    assert trained.sense("pose").name == "pose-mediapipe"
    assert "trained on pose-openpose maps, which cannot run here" in trained.status()["pose"].reason
    out = trained.extract(photo, 64)
    assert {"face_parsing", "pose"} <= set(out)
    monkeypatch.setenv("SENSORIUM_FACE_PARSING_PROVIDER", "face-parsing-transformers")
    pinned = SenseSet(["face_parsing"], preferred={"face_parsing": "face-parsing-mesh"})
    assert pinned.sense("face_parsing").name == "face-parsing-transformers"


def test_unknown_names_fail_loudly():
    with pytest.raises(KeyError):
        SenseSet(["smell"])
    with pytest.raises(KeyError):
        get_sense("pose", provider="pose-telepathy")


def test_registry_lists_every_modality():
    rows = list_senses()
    assert {r["modality"] for r in rows} == set(MODALITIES)
    assert get_sense("pose", provider="pose-mediapipe").name == "pose-mediapipe"
    assert get_sense("edges").name == "edges-canny"  # weight-free default first


# -- caching -----------------------------------------------------------------------------------
def count_calls(sense, delay: float = 0.0) -> list[int]:
    calls: list[int] = []
    extract = sense._extract

    def counted(image, size):
        calls.append(1)
        time.sleep(delay)
        return extract(image, size)

    sense._extract = counted
    return calls


def test_cache_hits_do_not_call_the_model(tiny_models, photo):
    senses = SenseSet(["depth", "edges"], overrides={"depth": SenseChoice(model=tiny_models["depth"])})
    depth_calls, edge_calls = count_calls(senses.sense("depth")), count_calls(senses.sense("edges"))
    first = senses.extract(photo, 64)
    second = senses.extract(photo.copy(), 64)  # another object, same pixels
    assert len(depth_calls) == 1 and len(edge_calls) == 1
    assert second["depth"] is first["depth"]
    senses.extract(photo, 32)  # another size is another map
    assert len(depth_calls) == 2


def test_concurrent_requests_extract_once(photo):
    senses = SenseSet(["edges"])
    calls = count_calls(senses.sense("edges"), delay=0.2)
    results = []
    threads = [threading.Thread(target=lambda: results.append(senses.extract(photo, 64))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r["edges"]) for r in results}) == 1


def test_map_cache_is_bounded(photo):
    cache = MapCache(max_entries=2)
    senses = SenseSet(["edges"], cache=cache)
    for s in (16, 24, 32):
        senses.extract(photo, s)
    assert len(cache) == 2
    assert image_hash(photo) == image_hash(photo.copy()) != image_hash(photo.rotate(90))
    red, blue = Image.new("P", (8, 8)), Image.new("P", (8, 8))  # the same indices, other colours
    red.putpalette([255, 0, 0] * 256)
    blue.putpalette([0, 0, 255] * 256)
    assert image_hash(red) != image_hash(blue)


# -- shared encodings, CLI, import hygiene ------------------------------------------------------
def test_openpose_and_mediapipe_share_the_skeleton_encoding():
    from sensorium.senses.openpose import openpose_to_body18
    from sensorium.senses.pose import MEDIAPIPE_TO_BODY18, mediapipe_to_body18
    from sensorium.senses.skeleton import render_skeleton

    rng = np.random.default_rng(0)
    mp = np.concatenate([rng.uniform(0.2, 0.8, (33, 2)), np.zeros((33, 1)), np.ones((33, 1))], 1)
    ours = mediapipe_to_body18(mp.astype(np.float32))
    w, h = 200, 100  # OpenPose reports pixels of the input image
    candidate = np.array([(x * w, y * h, 0.9, i) for i, (x, y, _) in enumerate(ours)])
    subset = np.concatenate([np.arange(18), [15.0, 18.0]])[None]
    theirs = openpose_to_body18(candidate, subset, w, h)
    assert MEDIAPIPE_TO_BODY18[1] == -1  # neck is synthesised from the shoulders
    np.testing.assert_allclose(theirs[0, :, :2], ours[:, :2], atol=1e-5)
    np.testing.assert_array_equal(render_skeleton(theirs, (64, 64)), render_skeleton(ours[None], (64, 64)))


def test_annotator_weights_missing_offline_names_the_file(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SENSORIUM_POSE_MODEL", raising=False)
    from sensorium.senses import SenseUnavailable
    from sensorium.senses.openpose import OpenPose

    reason = OpenPose().available().reason
    assert "lllyasviel/Annotators" in reason and "body_pose_model.pth" in reason
    with pytest.raises(SenseUnavailable, match="body_pose_model.pth"):
        get_sense("pose", provider="pose-openpose")
    assert get_sense("pose").name == "pose-mediapipe"  # the bundled fallback takes over


def test_cli_writes_maps_and_previews(tmp_path, photo, capsys):
    from sensorium.senses.__main__ import main

    path = tmp_path / "astronaut.png"
    photo.save(path)
    assert main([str(path), "--senses", "pose,edges", "--size", "64", "96", "-o", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out
    assert "pose-mediapipe" in lines and "edges-canny" in lines
    arr = np.load(tmp_path / "out" / "astronaut.pose.npy")
    assert arr.shape == (len(POSE_PARTS), 64, 96) and arr.dtype == np.float32
    assert Image.open(tmp_path / "out" / "astronaut.edges.png").size == (96, 64)
    capsys.readouterr()
    (tmp_path / "junk.png").write_text("not an image")
    for args, message in [([str(tmp_path / "nope.png")], "nope.png not found"), ([str(path), "--senses", "smell"],
                          "unknown modality 'smell'"), ([str(tmp_path / "junk.png")], "not an image we can read")]:  # fmt: skip
        assert main([*args, "-o", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_import_loads_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys, sensorium.senses, sensorium.senses.registry; "
        "heavy = {'cv2', 'mediapipe', 'transformers', 'controlnet_aux', 'matplotlib'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_models_load_once_per_process(tiny_models, photo):
    from sensorium.senses import model_cache

    a = SenseSet(["depth"], overrides={"depth": tiny_models["depth"]}, cache=MapCache())
    b = SenseSet(["depth"], overrides={"depth": tiny_models["depth"]}, cache=MapCache())
    a.extract(photo, 16)
    b.extract(photo, 16)
    assert a.sense("depth")._bundle is b.sense("depth")._bundle  # one model shared by both sets
    assert sum(1 for k in model_cache.loaded_keys() if tiny_models["depth"] in str(k)) == 1


def test_an_empty_modality_list_runs_no_sense():
    # Style-only requests ask for no map: none may run (an empty list once meant "all of them").
    senses = SenseSet(["edges", "person"])
    image = Image.fromarray(np.zeros((32, 32, 3), np.uint8))
    assert dict(senses.extract(image, (32, 32), [])) == {}
    assert set(senses.extract(image, (32, 32))) == {"edges", "person"} or "person" in senses.extract(image, (32, 32)).notes
