"""`python -m sensorium translate`: single files, folders with a contact sheet, one-line errors,
and the pipeline checked against the modules called by hand (it must add nothing hidden).

A tiny random checkpoint in tmp goes through the real code path; real photos from scikit-image.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.cli import main
from sensorium.cli.common import THUMB
from sensorium.contact_sheet import contact_sheet

RES = "64"  # tiny model stride is 8; 64 keeps every test under a few seconds


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """contents/{astronaut.jpg, coffee.png}, styles/{cat.jpg, flipped.png}: real photos, small files."""
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    (root / "contents").mkdir()
    (root / "styles").mkdir()
    Image.fromarray(data.astronaut()).resize((192, 192)).save(root / "contents" / "astronaut.jpg")
    Image.fromarray(data.coffee()).resize((300, 200)).save(root / "contents" / "coffee.png")  # landscape 3:2
    Image.fromarray(data.chelsea()).resize((225, 150)).save(root / "styles" / "cat.jpg")
    Image.fromarray(data.astronaut()[:, ::-1]).resize((160, 160)).save(root / "styles" / "flipped.png")
    return root


def run(*argv: object) -> int:
    return main([str(a) for a in argv])


def test_single_pair_writes_png_at_model_size(checkpoint, photos, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SENSORIUM_CACHE_DIR", str(tmp_path / "graphs"))
    out = tmp_path / "out.png"
    rc = run("translate", photos / "contents/coffee.png", photos / "styles/cat.jpg", "-o", out,
             "--checkpoint", checkpoint, "--resolution", RES, "--modalities", "edges,person",
             "--strength", "edges=1.5", "--save-maps", tmp_path / "maps")  # fmt: skip
    assert rc == 0
    # long side 64; short side 200 * 64 / 300 = 42.7 → nearest multiple of the stride (8) = 40
    assert Image.open(out).size == (64, 40)
    said = capsys.readouterr()
    assert f"wrote {out}" in said.out
    assert "Runtime:" not in said.err and not (tmp_path / "graphs").exists()  # one render: no export for it
    assert np.load(tmp_path / "maps" / "coffee.edges.npy").shape == (1, 40, 64)
    assert Image.open(tmp_path / "maps" / "coffee.person.png").size == (64, 40)


def test_folders_write_every_pair_and_a_contact_sheet(checkpoint, photos, tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    from sensorium.cli import common

    monkeypatch.setenv("SENSORIUM_CACHE_DIR", str(tmp_path / "graphs"))
    monkeypatch.delenv("SENSORIUM_RUNTIME", raising=False)
    monkeypatch.setattr(common, "PREPARE_FROM_RENDERS", 4)  # this grid's size (2 × 2)
    out = tmp_path / "grid"
    rc = run("translate", photos / "contents", photos / "styles", "-o", out, "--checkpoint", checkpoint,
             "--resolution", RES, "--modalities", "edges,face_landmarks")  # fmt: skip
    assert rc == 0
    # a grid this size first prepares the faster runtime: the graphs exported once, into the cache
    assert "Runtime: onnx from now on" in capsys.readouterr().err and list((tmp_path / "graphs").rglob("*.onnx"))
    for content in ("astronaut", "coffee"):
        for style in ("cat", "flipped"):
            assert (out / f"{content}__{style}.png").is_file()
    assert Image.open(out / "astronaut__cat.png").size == (64, 64)
    sheet = np.asarray(Image.open(out / "contact_sheet.png").convert("RGB"), dtype=np.float32)
    pad, step = 4, THUMB + 4
    assert sheet.shape == (3 * step + pad, 3 * step + pad, 3)  # header row/column + 2 × 2
    # cell (row 1, column 2) is astronaut in the 'flipped' style: compare it with that file
    cell = sheet[pad + step : pad + step + THUMB, pad + 2 * step : pad + 2 * step + THUMB]
    result = Image.open(out / "astronaut__flipped.png").convert("RGB").resize((THUMB, THUMB), Image.LANCZOS)
    assert np.abs(cell - np.asarray(result, dtype=np.float32)).mean() < 3


def test_bad_image_is_one_friendly_line_and_exit_2(checkpoint, tmp_path, photos, capsys):
    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is not a picture")
    rc = run("translate", bad, photos / "styles/cat.jpg", "-o", tmp_path / "x.png", "--checkpoint", checkpoint)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "holiday.jpg" in err and "not an image we can read" in err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--modalities", "pose,smell"], "Unknown modality 'smell'; this checkpoint has: depth"),
        (["--strength", "pose=lots"], "--strength expects MODALITY=NUMBER"),
        (["--resolution", "60"], "--resolution must be a multiple of 8"),
        (["--resolution", "8"], "--resolution must be a multiple of 8 from 16 px"),  # its coarsest level 1 px
        (["--checkpoint", "no/such/dir"], "checkpoint 'no/such/dir' not found"),
        (["--domain", "male"], "--domain: unknown domain 'male'; this checkpoint has domain 0"),
    ],
)
def test_usage_mistakes_exit_2(checkpoint, photos, tmp_path, capsys, extra, message):
    args = ["--checkpoint", checkpoint, *extra] if "--checkpoint" not in extra else extra
    rc = run("translate", photos / "contents/coffee.png", photos / "styles/cat.jpg", "-o", tmp_path / "x.png", *args)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1


def test_default_checkpoint_comes_from_env(checkpoint, photos, tmp_path, monkeypatch):
    monkeypatch.setenv("SENSORIUM_CHECKPOINT", str(checkpoint))
    rc = run("translate", photos / "contents/coffee.png", photos / "styles/cat.jpg", "-o", tmp_path / "x.png",
             "--resolution", RES, "--modalities", "edges")  # fmt: skip
    assert rc == 0 and (tmp_path / "x.png").is_file()


def test_pipeline_adds_nothing_hidden(checkpoint):
    """pipe(...) on eager equals senses → stack_maps → encode_content → generate(·, encode_style) by hand."""
    from skimage import data

    from sensorium.conditioning import stack_maps
    from sensorium.images import fit_to_model, pil_to_tensor, tensor_to_pil
    from sensorium.model import Sensorium
    from sensorium.pipeline import TranslationPipeline
    from sensorium.senses import SenseSet

    content = Image.fromarray(data.astronaut()).crop((100, 0, 400, 300))  # head and shoulders
    style = Image.fromarray(data.chelsea())
    mods, strengths = ["pose", "face_landmarks", "edges"], {"pose": 1.5, "edges": 0.5}
    result = TranslationPipeline.from_pretrained(checkpoint, device="cpu", runtime="eager")(
        content, style, modalities=mods, strengths=strengths, resolution=128
    )

    model = Sensorium.from_pretrained(checkpoint)
    prepared = fit_to_model(content, 128, model.config.stride)
    size = (prepared.height, prepared.width)
    maps = SenseSet(model.config.modalities).extract(prepared, size, mods)  # a fresh set: no shared cache
    assert all(maps[m].found for m in mods)  # every sense contributed, so the comparison means something
    stacked, presence = stack_maps({m: maps[m].tensor for m in mods}, model.config.modalities, size, strengths)
    with torch.inference_mode():
        s = model.encode_style(pil_to_tensor(fit_to_model(style, 128, model.config.stride))[None])
        expected = tensor_to_pil(model.generate(model.encode_content(stacked, presence), s)[0])

    assert result.modalities == tuple(mods)
    torch.testing.assert_close(result.style, s[0])
    np.testing.assert_array_equal(np.asarray(result.image), np.asarray(expected))


def test_contact_sheet_layout():
    red, blue = Image.new("RGB", (40, 20), (255, 0, 0)), Image.new("RGB", (10, 10), (0, 0, 255))
    sheet = contact_sheet(["a", "b"], [red, (blue, "blue")], [[blue, None], [red, blue]], cell=32, pad=2)
    assert sheet.size == (3 * 34 + 2, 3 * 34 + 2)
    px = np.asarray(sheet)
    assert tuple(px[2 + 34 + 16, 2 + 34 + 16]) == (0, 0, 255)  # row a, column 1: blue, scaled up to fill
    assert tuple(px[2 + 2 * 34 + 16, 2 + 34 + 16]) == (255, 0, 0)  # row b, column 1: red (letterboxed)
    assert tuple(px[2 + 34 + 16, 2 + 2 * 34 + 16]) == (255, 255, 255)  # None: blank
    with pytest.raises(ValueError, match="2 rows × 2 columns"):
        contact_sheet(["a", "b"], ["x", "y"], [[red, red]])


def test_module_entry_point_and_senses_passthrough(capsys):
    done = subprocess.run([sys.executable, "-m", "sensorium", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "translate" in done.stdout and "video" in done.stdout
    with pytest.raises(SystemExit) as exc:
        main(["senses", "--help"])  # handed to `python -m sensorium.senses` unchanged
    assert exc.value.code == 0 and "sensorium.senses" in capsys.readouterr().out


def test_own_maps_replace_the_sense_and_bad_ones_say_why(checkpoint, photos, tmp_path, capsys):
    content, style = photos / "contents/astronaut.jpg", photos / "styles/cat.jpg"
    common = ["--checkpoint", checkpoint, "--resolution", RES, "--modalities", "edges,person"]
    assert run("translate", content, style, "-o", tmp_path / "a.png", *common, "--save-maps", tmp_path / "maps") == 0
    saved = tmp_path / "maps" / "astronaut.person.png"  # the preview, read back as the person map
    assert run("translate", content, style, "-o", tmp_path / "b.png", *common, "--map", f"person={saved}") == 0
    a, b = (np.asarray(Image.open(tmp_path / f"{n}.png"), dtype=float) for n in "ab")
    assert np.abs(a - b).mean() < 1.0  # the round trip gives (nearly) the detected map
    capsys.readouterr()
    Image.new("RGB", (64, 64)).save(tmp_path / "empty.png")
    assert run("translate", content, style, "-o", tmp_path / "c.png", *common, "--map", f"person={tmp_path / 'empty.png'}") == 0
    assert "person map is empty, so the person slot is absent" in capsys.readouterr().err
    (tmp_path / "styles").mkdir()  # a style folder: the own map goes with every style
    Image.open(style).save(tmp_path / "styles" / "cat.png")
    assert run("translate", content, tmp_path / "styles", "-o", tmp_path / "d", *common, "--map",
               f"person={tmp_path / 'empty.png'}") == 0  # fmt: skip
    assert "person map is empty, so the person slot is absent" in capsys.readouterr().err
    for arg, message in [("person", "--map expects MODALITY=FILE"), ("smell=x.png", "--map smell: unknown modality"),
                         (f"person={tmp_path / 'nope.png'}", "not found")]:  # fmt: skip
        assert run("translate", content, style, "-o", tmp_path / "x.png", *common, "--map", arg) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    (tmp_path / "junk.png").write_text("not an image")
    assert run("translate", content, style, "-o", tmp_path / "x.png", *common, "--map", f"person={tmp_path / 'junk.png'}") == 2
    assert "Your person map:" in capsys.readouterr().err
