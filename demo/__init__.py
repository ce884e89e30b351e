"""The Gradio demo of Sensorium: `settings` (flags/env, the one pipeline load), `state` (what all
sessions share), `inputs` (friendly checks of uploads and options), `handlers` (the plain functions
the UI and the API call), `text` (words and CSS) and `ui` (the Blocks layout and `build_demo`)."""

from sensorium.lazy_modules import defer

from . import gradio_stubs

gradio_stubs.install()  # before any demo module imports gradio: see demo/gradio_stubs.py
# gradio imports pandas (with pyarrow) at import, for gr.Cache's hashing of DataFrames, which the
# demo never uses, and for its queue's analytics, which run after a request is answered: deferred,
# ~1 s of `import gradio` on 2 cores moves from the start to after the first answer.
defer("pandas")
