"""/contributions and /style_freedom through gradio_client, with the app's own server."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.app_fixtures import CONTENT, STYLE, app_client, text_file

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

RES = 64
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:.*(no_silent_downcasting|copy keyword)")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with app_client(tmp_path_factory.mktemp("ckpt") / "tiny-sensorium") as c:
        yield c


def test_contributions_is_a_labelled_grid(client):
    grid, labels, status = client.predict(content=handle_file(CONTENT), style=handle_file(STYLE),
                                          modalities=["edges", "person", "face_landmarks"], resolution=RES,
                                          api_name="/contributions")  # fmt: skip
    assert labels == ["none (style only)", "only edges", "only person", "only face landmarks", "all but edges",
                      "all but person", "all but face landmarks", "all"]  # fmt: skip
    assert "8 cells from 8 images in one batch" in status
    with Image.open(grid) as im:  # a label column + 3 senses; a header row + only / all but / all · none
        assert im.format == "PNG" and im.size == (4 * 164 + 4, 4 * 164 + 4)


def test_style_freedom_heat_map_follows_the_senses(client):
    def heat(**kwargs):
        path, mean, status = client.predict(content=handle_file(CONTENT), resolution=RES, n=4, api_name="/style_freedom",
                                            **kwargs)  # fmt: skip
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.float32), mean, status

    every, mean, status = heat()
    assert every.shape[0] == RES and 0 < mean < 0.5 and "4 sampled styles" in status
    no_edges, _, status = heat(modalities=["person", "face_landmarks"])
    assert np.abs(every - no_edges).mean() > 0.5 and "edges" not in status


@pytest.mark.parametrize("api, kwargs, message", [
    ("/contributions", dict(style=None), "Please add a style image"),
    ("/contributions", dict(strengths={"colour": 1}), "Unknown modality 'colour'"),
    ("/style_freedom", dict(n=40), "from 2 to 16"),
    ("/style_freedom", dict(strengths="not json"), "Strengths must be JSON"),
])  # fmt: skip
def test_errors_are_clear(client, api, kwargs, message):
    args = dict(content=handle_file(CONTENT), resolution=RES) | (dict(style=handle_file(STYLE)) if api == "/contributions" else {})
    with pytest.raises(AppError, match=message) as err:
        client.predict(**(args | kwargs), api_name=api)
    assert "Traceback" not in str(err.value)


def test_an_unreadable_content_image_is_clear(client, tmp_path):
    with pytest.raises(AppError, match="not an image we can read"):
        client.predict(handle_file(text_file(tmp_path / "x.png")), api_name="/style_freedom")
