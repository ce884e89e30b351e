"""The exploring panels and the live webcam in a real headless Chromium, on Chromium's fake camera
fed from a small y4m clip of an example portrait. One browser serves both tests.

Screenshots of the panels go to $SENSORIUM_SCREENSHOT_DIR (default: the test's tmp folder).
"""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app_fixtures import CONTENT, STYLE, launch_app, torch_threads
from tests.browser import CHROMIUM, TIMEOUT_MS, chromium, open_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:.*(no_silent_downcasting|copy keyword)"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
]


def write_y4m(path: Path, image: Image.Image, frames: int = 10, size: tuple[int, int] = (160, 120)) -> Path:
    """A raw YUV 4:2:0 clip (the format Chromium's fake camera reads): the image, panning a pixel a frame."""
    ycc = np.asarray(image.convert("RGB").resize(size).convert("YCbCr"))
    y, u, v = ycc[..., 0], ycc[::2, ::2, 1], ycc[::2, ::2, 2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            f.write(b"FRAME\n" + np.roll(y, i, axis=1).tobytes() + u.tobytes() + v.tobytes())
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    clip = write_y4m(tmp_path_factory.mktemp("camera") / "clip.y4m", Image.open(CONTENT))
    camera = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              f"--use-file-for-fake-video-capture={clip}"]  # fmt: skip
    with torch_threads(1):
        demo, url = launch_app(tmp_path_factory.mktemp("ckpt") / "tiny-sensorium")
        try:
            with chromium(camera) as browser:
                page = open_page(browser, url)
                page.locator("#content input[type=file]").set_input_files(str(CONTENT))
                page.locator("#style input[type=file]").set_input_files(str(STYLE))
                sync_api.expect(page.locator("#status")).to_contain_text("total", timeout=TIMEOUT_MS)
                yield page
        finally:
            demo.close()


def shot(page, selector: str, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("SENSORIUM_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.locator(selector).screenshot(path=str(folder / name))


def image_of(page, selector: str) -> Image.Image:
    """The picture an <img> shows, fetched by the page itself (data: or server URLs alike)."""
    data = page.locator(selector).evaluate(
        "async img => { const b = await (await fetch(img.src)).blob(); const r = new FileReader();"
        " return await new Promise(ok => { r.onload = () => ok(r.result); r.readAsDataURL(b); }); }"
    )
    return Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))).convert("RGB")


def test_heat_map_follows_the_ticks_and_the_grid_shows_each_sense(page, tmp_path):
    from playwright.sync_api import expect

    heat = page.locator("#freedom img")
    expect(page.locator("#freedom-status")).to_contain_text("under the senses edges, person, face landmarks", timeout=TIMEOUT_MS)
    before = np.asarray(image_of(page, "#freedom img"), dtype=np.float32)
    page.locator("#use-person input[type=checkbox]").uncheck()
    expect(page.locator("#freedom-status")).to_contain_text("under the senses edges, face landmarks;", timeout=TIMEOUT_MS)
    after = np.asarray(image_of(page, "#freedom img"), dtype=np.float32)
    assert heat.count() == 1 and before.shape == after.shape and np.abs(before - after).mean() > 0.5
    shot(page, "#freedom-panel", "style_freedom.png", tmp_path)

    page.get_by_role("tab", name="What each sense adds").click()
    page.locator("#grid-run").click()
    expect(page.locator("#grid-status")).to_contain_text("senses: edges, face landmarks", timeout=TIMEOUT_MS)
    grid = image_of(page, "#grid img")  # a label column + 2 senses; header, only, all but, all · none rows
    assert grid.size == (3 * 164 + 4, 4 * 164 + 4)
    shot(page, "#grid", "contributions.png", tmp_path)


def test_the_live_webcam_streams_translated_frames_and_stops(page, tmp_path):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Live webcam").click()
    page.locator("#camera").get_by_text("Click to Access Webcam").click()
    page.locator("#camera button.capture-button").click()  # the camera's record button
    status = page.locator("#live-status")
    expect(status).to_contain_text(re.compile(r"fps · frame ([3-9]|\d\d)"), timeout=TIMEOUT_MS)  # it streams
    frame = image_of(page, "#live img")
    assert max(frame.size) == 256 and np.asarray(frame).std() > 5  # a real picture at the live size
    shot(page, "#webcam-panel", "webcam.png", tmp_path)
    page.locator("#live-stop").click()
    expect(status).to_contain_text("Stopped after", timeout=TIMEOUT_MS)
    expect(page.locator("#camera [title='start recording']")).to_be_visible(timeout=TIMEOUT_MS)  # the camera is idle again
