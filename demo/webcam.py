"""Live webcam: frames stream through the senses, a cached style and the video path's map smoothing.

Each frame is one `TranslationPipeline.sense` (uncached: frames never repeat) → `MapSmoother`
(sensorium/video.py, the same smoother as a video file) → `render` on the style vector the stream
encoded once, so a faster generator or sense runtime speeds the stream up without changes here.
A stream has a processing-time limit and a stop button; a pause of a few seconds starts afresh.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import gradio as gr
import numpy as np
import torch
from PIL import Image

from sensorium.senses.settings import SenseSettings
from sensorium.video import MapSmoother

from . import handlers as h
from .inputs import check_domain, check_modalities, check_resolution, check_strengths, load_upload
from .sense_inputs import SensePanel
from .state import MODEL, DemoState

STREAM_EVERY = 0.1  # seconds between the frames the browser sends (it drops frames while one is in flight)
TIME_LIMIT = 60  # seconds of processing one stream may use, so one person cannot hold the model
SMOOTH = 0.5  # map smoothing over frames (MapSmoother factor): steadier output, a little lag
RESTART_AFTER = 3.0  # seconds without frames after which a stream starts afresh (smoothing, counters)
LIVE_RESOLUTION = 256  # the default live size: fps falls with the square of the side


@dataclass
class LiveSession:
    """One browser's stream: its smoother, the style it encoded, and running timings."""

    smoother: MapSmoother = field(default_factory=lambda: MapSmoother(SMOOTH))
    style_key: tuple | None = None  # (style upload, resolution, domain) the vector below belongs to
    style: torch.Tensor | None = None  # (S,)
    frames: int = 0
    started: float = field(default_factory=time.perf_counter)
    last: float = field(default_factory=time.perf_counter)
    senses_s: float = 0.0  # summed over the stream's frames
    generator_s: float = 0.0

    @property
    def fps(self) -> float:
        """Frames translated per second of wall time since the stream started."""
        elapsed = self.last - self.started
        return (self.frames - 1) / elapsed if self.frames > 1 and elapsed > 0 else 0.0

    def status(self) -> str:
        n = max(self.frames, 1)
        return (f"**{self.fps:.1f} fps** · frame {self.frames} · senses {1e3 * self.senses_s / n:.0f} ms · "
                f"generator {1e3 * self.generator_s / n:.0f} ms per frame")  # fmt: skip


def live_frame(state: DemoState, frame, style, session: LiveSession | None, modalities: Sequence[str] | None = None,
               strengths: Mapping[str, float] | None = None, resolution: int | None = LIVE_RESOLUTION,
               domain: int = 0, settings: SenseSettings | None = None) -> tuple[Image.Image | None, LiveSession, str]:  # fmt: skip
    """One webcam frame (H, W, 3 uint8, or any image) → its translation, the session, a status line;
    `settings` are the app's sense settings (Canny thresholds, …)."""
    now = time.perf_counter()
    if session is None or now - session.last > RESTART_AFTER:
        session = LiveSession()
    if frame is None:
        return None, session, "Waiting for the camera…"
    if style is None:  # a status line, not an error: frames keep coming every STREAM_EVERY seconds
        return None, session, "Add a style image above (or click a style example) to start."
    use, _ = check_modalities(state, modalities)
    strengths, _ = check_strengths(state, strengths)
    res, _ = check_resolution(state, resolution)
    domain = check_domain(state, domain)
    key = (str(style), res, domain)
    if session.style_key != key:  # encoded once per stream and style, not per frame
        session.style, session.style_key = state.pipe.style(load_upload(state, style, "style").image, res, domain), key
    image = Image.fromarray(np.asarray(frame, dtype=np.uint8)[..., :3]) if isinstance(frame, np.ndarray) else \
        load_upload(state, frame, "webcam").image  # fmt: skip
    t0 = time.perf_counter()
    content = state.pipe.sense(image, res, use, cache=False, settings=settings)
    content = dataclasses.replace(content, maps=session.smoother(content.maps))
    t1 = time.perf_counter()
    # render_subsets, not render: a frame's encoded content is never reused, so it stays out of the
    # pipeline's content cache (kept for other people's style-only changes).
    (out,) = h.out_of_memory_is_friendly(lambda: state.pipe.render_subsets(content, session.style, [use], strengths))
    session.senses_s += t1 - t0
    session.generator_s += time.perf_counter() - t1
    session.frames += 1
    session.last = time.perf_counter()
    if session.frames == 1:
        session.started = session.last  # fps counts from the first frame out
    return out, session, session.status()


def webcam_tab(state: DemoState) -> dict:
    """The "Live webcam" tab: camera in, translation out, a stop button and the frame rate."""
    out: dict = {}
    with gr.Tab("Live webcam"):
        gr.Markdown(f"Your camera through the ticked senses and the style image, frame by frame (maps smoothed "
                    f"over time). Click the camera's record button to start; a stream runs up to {TIME_LIMIT} s.")  # fmt: skip
        with gr.Row(elem_id="webcam-panel"):
            out["camera"] = gr.Image(label="Camera", sources=["webcam"], streaming=True, type="numpy", height=320,
                                     elem_id="camera")  # fmt: skip
            out["live"] = gr.Image(label="Live result", type="pil", format="jpeg", height=320, interactive=False,
                                   streaming=True, elem_id="live")  # fmt: skip
        with gr.Row():
            out["live_stop"] = gr.Button("■ Stop stream", variant="stop", size="sm", scale=0, min_width=140, elem_id="live-stop")
            out["live_status"] = gr.Markdown("Not streaming.", elem_id="live-status")
        out["live_session"] = gr.State(None)
    return out


def wire(state: DemoState, ui: dict, out: dict, panel: SensePanel) -> None:
    """The stream event (time-limited, on the model's concurrency group) and the stop button. Frames
    take the panel's ticks, strengths and sense settings; own maps belong to one photo, not a stream."""
    from .ui import gpu  # at call time: demo.ui imports this module

    @gpu
    def frame(camera, style, session, resolution, domain, *values):
        s = panel.read(values, with_maps=False)
        return live_frame(state, camera, style, session, s.use, s.strengths, min(resolution or LIVE_RESOLUTION,
                          LIVE_RESOLUTION), domain, s.settings)  # fmt: skip

    inputs = [out["camera"], ui["style"], out["live_session"], ui["resolution"], ui["domain"],
              *panel.components(with_maps=False)]  # fmt: skip
    out["camera"].stream(frame, inputs, [out["live"], out["live_session"], out["live_status"]], stream_every=STREAM_EVERY,
                         time_limit=TIME_LIMIT, concurrency_id=MODEL, api_visibility="private", show_progress="hidden")
    # The camera's own record button toggles the stream in the browser; Stop presses it when it is
    # recording (a server-side cancel would end one frame's call, not the browser's stream).
    out["live_stop"].click(stopped, out["live_session"], out["live_status"], js=STOP_JS, api_visibility="private",
                           queue=False)  # fmt: skip


STOP_JS = """(session) => { document.querySelector('#camera [title="stop recording"]')?.closest('button')?.click();
return session; }"""


def stopped(session: LiveSession | None) -> str:
    return f"Stopped after {session.frames} frames ({session.status()})." if session and session.frames else "Not streaming."
