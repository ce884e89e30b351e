"""docs/reliability.md names a test for every guarantee; each named test must exist, or the
guarantee would be backed by nothing."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_named_in_reliability_md_exists():
    named, missing = 0, []
    for line in (ROOT / "docs" / "reliability.md").read_text().splitlines():
        current = None  # "`tests/x.py::a`, `::b`" — b lives in the file named before it
        for m in re.finditer(r"`(tests/[\w/]+\.py)?::(\w+)`", line):
            current = m.group(1) or current
            named += 1
            source = (ROOT / current).read_text() if current else ""
            if not re.search(rf"^(async )?def {m.group(2)}\b", source, re.M):
                missing.append(f"{current}::{m.group(2)}")
    assert named > 50 and not missing, missing


def modality_table_problems(readme: str) -> list[str]:
    """How the README's modality table disagrees with the Modality specs (empty: it agrees): one
    row per spec, in spec order, whose sense column names the spec's preferred provider's label."""
    from sensorium.modalities import MODALITIES
    from sensorium.senses.registry import providers_of

    rows = re.findall(r"^\| `(\w+)` \| ([^|]*) \|", readme, re.M)
    problems = []
    if [name for name, _ in rows] != list(MODALITIES):
        problems.append(f"README rows {[n for n, _ in rows]} != modalities {list(MODALITIES)}")
    for name, online in rows:
        if name in MODALITIES and MODALITIES[name].providers:
            first = providers_of(name)[0]
            if not any(word.lower() in online.lower() for word in (first.label.split("(")[-1].rstrip(")"), first.name)):
                problems.append(f"README says {name!r} is filled by {online.strip()!r}, the spec prefers {first.label!r}")
    return problems


def test_the_readme_modality_table_agrees_with_the_specs():
    assert modality_table_problems((ROOT / "README.md").read_text()) == []


def test_a_toy_modality_is_one_spec_entry_plus_one_sense_class(monkeypatch):
    import numpy as np
    import torch

    from demo.text import contributes
    from sensorium import modalities
    from sensorium.senses import SenseSet, list_senses, register_sense
    from sensorium.senses.base import Availability, Sense, SenseMap
    from sensorium.senses.registry import SENSE_CLASSES

    spec = modalities.Modality("warmth", 1, "how warm each pixel looks", contributes="where it feels warm",
                               providers=("warmth-redness",))  # fmt: skip
    monkeypatch.setitem(modalities.MODALITIES, "warmth", spec)

    class Redness(Sense):
        modality, name, label, channels = "warmth", "warmth-redness", "warmth (red channel)", 1

        def _check_available(self):
            return Availability(True)

        def _load(self, device):
            return None

        def _extract(self, image, size):
            red = torch.from_numpy(np.asarray(image.resize(size[::-1]))[..., 0].astype(np.float32))[None] / 255
            return SenseMap("warmth", red, image)

    monkeypatch.setitem(SENSE_CLASSES, "warmth-redness", Redness)
    register_sense(Redness)
    assert [r["name"] for r in list_senses() if r["modality"] == "warmth"] == ["warmth-redness"]
    assert contributes("warmth") == "where it feels warm"
    from PIL import Image

    maps = SenseSet(["warmth"]).extract(Image.new("RGB", (8, 8), (255, 0, 0)), (8, 8))
    assert maps["warmth"].tensor.min() == 1.0
    problems = modality_table_problems((ROOT / "README.md").read_text())
    assert len(problems) == 1 and "warmth" in problems[0]  # the docs check sees the new slot missing


def test_every_named_channel_list_matches_its_channel_count():
    from sensorium.modalities import MODALITIES

    for spec in MODALITIES.values():
        assert not spec.parts or len(spec.parts) == spec.channels, spec.name
        assert all(0 <= i < spec.channels for pair in spec.flip_pairs for i in pair), spec.name
        assert spec.contributes and spec.providers, spec.name  # the app's text and the registry need both


def test_the_readme_gradio_client_snippet_runs_against_the_app(tmp_path):
    # The snippet as written, with the URL of a real app around a tiny model.
    import os

    from tests.app_fixtures import launch_app, torch_threads

    code = re.search(r"## From code: gradio_client.*?```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    with torch_threads(1):
        demo, url = launch_app(tmp_path / "ckpt")
        try:
            cwd = os.getcwd()
            os.chdir(ROOT)  # the snippet's example paths are relative to the checkout
            try:
                exec(compile(code.replace("http://127.0.0.1:7860/", url), "README snippet", "exec"), {})
            finally:
                os.chdir(cwd)
        finally:
            demo.close()
