"""The app as a server: every named endpoint through gradio_client, error messages, start-up."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.app_fixtures import CONTENT, STYLE, STYLE_B, app_client, corrupt_jpeg, text_file

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

RES = 64
# gradio's queue uses pandas options that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:.*(no_silent_downcasting|copy keyword)")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with app_client(tmp_path_factory.mktemp("ckpt") / "tiny-sensorium") as c:
        yield c


def test_named_endpoints_are_public_and_ui_events_are_not(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/translate", "/extract", "/random_styles", "/info", "/contributions",
                                           "/style_freedom"}
    params = [p["parameter_name"] for p in api["named_endpoints"]["/translate"]["parameters"]]
    assert params == ["content", "style", "modalities", "strengths", "resolution", "style_b", "mix", "domain",
                      "map_edges", "map_person", "map_face_landmarks", "map_depth"]  # fmt: skip


def test_translate(client):
    image, maps, status = client.predict(
        content=handle_file(CONTENT), style=handle_file(STYLE), modalities=["edges", "person"],
        strengths={"edges": 0.5}, resolution=RES, style_b=handle_file(STYLE_B), mix=0.25, api_name="/translate",
    )  # fmt: skip
    with Image.open(image) as im:
        assert im.format == "PNG" and max(im.size) == RES
    assert [m["caption"] for m in maps] == ["edges · ×0.50", "person", "face landmarks · off"]
    assert "CPU" in status and "generator" in status


def test_translate_with_defaults_uses_every_available_sense(client):
    _, maps, _ = client.predict(handle_file(CONTENT), handle_file(STYLE), api_name="/translate")
    assert [m["caption"] for m in maps] == ["edges", "person", "face landmarks"]


def test_numbers_as_text_one_modality_as_a_string_and_null_for_all_are_taken(client):
    """What JSON clients and agents send: gradio's own conversion refused these with a bare "Error"."""
    _, maps, _ = client.predict(handle_file(CONTENT), handle_file(STYLE), "edges", None, str(RES), api_name="/translate")
    assert [m["caption"] for m in maps] == ["edges", "person · off", "face landmarks · off"]
    samples = client.predict(handle_file(CONTENT), None, None, str(RES), "3", "2", api_name="/random_styles")
    assert [s["caption"] for s in samples] == ["seed 3 · #1", "seed 3 · #2"]


def test_extract(client):
    maps, status = client.predict(content=handle_file(CONTENT), resolution=RES, api_name="/extract")
    assert [m["caption"] for m in maps] == ["edges", "person", "face landmarks"]
    assert "senses" in status


def test_random_styles(client):
    samples = client.predict(content=handle_file(CONTENT), modalities=["edges"], resolution=RES, seed=3, n=3,
                             api_name="/random_styles")  # fmt: skip
    assert [s["caption"] for s in samples] == [f"seed 3 · #{i}" for i in (1, 2, 3)]


def test_info(client):
    info = client.predict(api_name="/info")
    assert info["device"] == "CPU" and info["checkpoint"].endswith("tiny-sensorium")
    assert info["domains"] == ["domain 0"] and info["num_domains"] == 1
    assert info["modalities"]["edges"]["available"] and not info["modalities"]["depth"]["available"]
    assert "does not exist" in info["modalities"]["depth"]["reason"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(content=None), "Please add a content image"),
    (dict(style=None), "Please add a style image"),
    (dict(strengths={"colour": 1}), "Unknown modality 'colour'"),
    (dict(strengths="not json"), "Strengths must be JSON"),
    (dict(domain=3), "Domain must be from 0 to 0"),
])  # fmt: skip
def test_translate_errors_are_clear(client, kwargs, message):
    args = dict(content=handle_file(CONTENT), style=handle_file(STYLE), resolution=RES) | kwargs
    with pytest.raises(AppError, match=message) as err:
        client.predict(**args, api_name="/translate")
    assert "Traceback" not in str(err.value)


def test_unreadable_uploads_are_clear(client, tmp_path):
    with pytest.raises(AppError, match="^Style image: That file is not an image we can read"):
        client.predict(handle_file(CONTENT), handle_file(text_file(tmp_path / "x.png")), api_name="/translate")
    tiny = tmp_path / "one.png"
    Image.new("RGB", (1, 1)).save(tiny)
    with pytest.raises(AppError, match="^Content image: That image is only 1×1 pixels"):  # both worded alike
        client.predict(handle_file(tiny), handle_file(STYLE), api_name="/translate")
    with pytest.raises(AppError, match="damaged or incomplete"):
        client.predict(content=handle_file(corrupt_jpeg(tmp_path / "cut.jpg")), api_name="/extract")


# -- own maps ---------------------------------------------------------------------------------------
def own_map(tmp_path, name: str, array) -> str:
    path = tmp_path / name
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return handle_file(path)


def translate_rgb(client, **kwargs) -> tuple[np.ndarray, str]:
    image, _, status = client.predict(content=handle_file(CONTENT), style=handle_file(STYLE), resolution=RES,
                                      api_name="/translate", **kwargs)  # fmt: skip
    with Image.open(image) as im:
        return np.asarray(im.convert("RGB"), dtype=float), status


def test_an_own_map_per_modality_changes_the_output(client, tmp_path):
    plain, _ = translate_rgb(client)
    h, w = plain.shape[:2]
    mask = np.zeros((h, w, 3))
    mask[:, : w // 2] = 255  # the left half is "person"
    mine, status = translate_rgb(client, map_person=own_map(tmp_path, "mask.png", mask))
    assert np.abs(mine - plain).mean() > 1.0 and "person: your map" in status
    ramp = np.repeat(np.tile(np.linspace(0, 255, w), (h, 1))[..., None], 3, axis=2)
    _, status = translate_rgb(client, map_depth=own_map(tmp_path, "depth.png", ramp))  # no depth sense here
    assert "depth: your map" in status and "depth is not available" not in status


def test_bad_own_maps_get_notes_or_clear_errors(client, tmp_path):
    with pytest.raises(AppError, match="^Person map: That file is not an image"):
        translate_rgb(client, map_person=handle_file(text_file(tmp_path / "mask.png")))
    small = np.zeros((20, 60, 3))
    small[:, :30] = 255
    _, status = translate_rgb(client, map_person=own_map(tmp_path, "small.png", small))
    assert "resized from 60×20" in status and "stretched" in status
    noise = np.random.default_rng(0).integers(0, 256, (RES, RES, 3))
    _, status = translate_rgb(client, map_face_landmarks=own_map(tmp_path, "noise.png", noise))
    assert "were snapped to the nearest" in status
    _, status = translate_rgb(client, map_person=own_map(tmp_path, "empty.png", np.zeros((RES, RES, 3))))
    assert "person map is empty, so the person slot is absent" in status


# -- start-up -------------------------------------------------------------------------------------
def test_settings_flags_beat_env_and_spaces_bind_all_interfaces():
    from demo.settings import parse_settings

    assert parse_settings([], {}).host == "127.0.0.1"
    assert parse_settings([], {"SPACE_ID": "user/sensorium"}).host == "0.0.0.0"
    s = parse_settings(["--port", "9000", "--checkpoint", "a/b"], {"SENSORIUM_PORT": "8000", "SENSORIUM_CHECKPOINT": "c/d",
                                                                   "SENSORIUM_MAX_RESOLUTION": "384"})  # fmt: skip
    assert (s.port, s.checkpoint, s.max_resolution, s.share) == (9000, "a/b", 384, False)
    assert parse_settings([], {"SENSORIUM_TRIM_EVERY": "5"}).trim_every == 5.0 and parse_settings([]).trim_every == 60.0
    assert parse_settings(["--trim-every", "0"], {"SENSORIUM_TRIM_EVERY": "5"}).trim_every == 0.0
    assert parse_settings([], {}).malloc_arenas == 2 and parse_settings([], {"SENSORIUM_MALLOC_ARENAS": "0"}).malloc_arenas == 0
    assert parse_settings(["--malloc-arenas", "4"], {"SENSORIUM_MALLOC_ARENAS": "0"}).malloc_arenas == 4
    assert parse_settings([], {"MALLOC_ARENA_MAX": "8"}).malloc_arenas == 0  # glibc's own variable is left to rule
    for bad in (["--trim-every", "-1"], ["--malloc-arenas", "-1"], ["--max-file-size", "5 megs"]):
        with pytest.raises(SystemExit):  # argparse's usage line, no traceback
            parse_settings(bad, {})


def test_the_pipeline_is_loaded_once_per_process(tmp_path):
    from demo.settings import load_pipeline
    from tests.app_fixtures import tiny_model

    tiny_model().save_pretrained(tmp_path / "ckpt")
    first = load_pipeline(str(tmp_path / "ckpt"), "cpu")
    assert load_pipeline(str(tmp_path / "ckpt"), "cpu") is first and first.device.type == "cpu"


@pytest.mark.parametrize("bad", ["missing", "corrupt"])
def test_a_bad_checkpoint_stops_start_up_with_a_clear_message(tmp_path, capsys, bad):
    import app

    ckpt = tmp_path / "ckpt"
    if bad == "corrupt":
        ckpt.mkdir()
        (ckpt / "config.json").write_text('{"model": {"modalities": ["edges"]}}')
        (ckpt / "model.safetensors").write_bytes(b"\x00" * 64)
    assert app.main(["--checkpoint", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert "Sensorium could not start" in err and ("not found" in err or "corrupt" in err)
    assert "Traceback" not in err


def test_a_multi_domain_checkpoint_offers_its_domains_by_name(tmp_path):
    import gradio as gr

    from demo.ui import build_demo
    from sensorium import Sensorium, tiny_config
    from sensorium.pipeline import TranslationPipeline

    Sensorium(tiny_config(num_domains=2)).save_pretrained(tmp_path / "ckpt", metadata={"domains": ["female", "male"]})
    demo = build_demo(TranslationPipeline.from_pretrained(tmp_path / "ckpt", device="cpu"))
    (dropdown,) = [b for b in demo.blocks.values() if isinstance(b, gr.Dropdown) and b.label == "Style domain"]
    assert dropdown.visible and dropdown.choices == [("female", 0), ("male", 1)] and dropdown.value == 0
