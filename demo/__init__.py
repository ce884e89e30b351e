"""The Gradio demo of Sensorium: `settings` (flags/env, the one pipeline load), `state` (what all
sessions share), `inputs` (friendly checks of uploads and options), `handlers` (the plain functions
the UI and the API call), `text` (words and CSS) and `ui` (the Blocks layout and `build_demo`)."""

from . import gradio_stubs

gradio_stubs.install()  # before any demo module imports gradio: see demo/gradio_stubs.py
