"""The Gradio demo of Sensorium: `settings` (flags/env, pipeline load), `handlers` (plain
functions the UI and the API call), `ui` (the Blocks layout and `build_demo`)."""
