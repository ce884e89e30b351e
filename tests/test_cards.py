"""The Hub metadata: the model card and the Space card (README front matter) say what the Hub needs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PAPER = "https://arxiv.org/abs/2110.06443"


def front_matter(path: Path) -> tuple[dict, str]:
    text = path.read_text()
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    assert match, f"{path} has no YAML front matter"
    return yaml.safe_load(match.group(1)), match.group(2)


def test_the_model_card_names_task_library_paper_and_code():
    meta, body = front_matter(ROOT / "assets/checkpoints/sensorium-portraits/README.md")
    assert meta["pipeline_tag"] == "image-to-image" and meta["library_name"] == "sensorium"
    assert meta["license"] == "mit" and "arxiv:2110.06443" in meta["tags"]  # the Hub links the paper page
    assert PAPER in body and "app.py" in body and "assets/checkpoints/sensorium-portraits" in body


def test_the_model_card_links_the_repository_it_ships_in():
    """The card links the code by relative paths (no repository URL is assumed), so each must resolve
    from the card's folder to a file of this checkout: the repository's README, app.py, the recipe."""
    card = ROOT / "assets/checkpoints/sensorium-portraits/README.md"
    _, body = front_matter(card)
    targets = re.findall(r"\]\((\.\./[^)#\s]+)\)", body)
    assert {"../../../README.md", "../../../app.py"} <= set(targets), targets
    for target in targets:
        assert (card.parent / target).resolve().is_file(), f"{target} does not resolve from {card.parent}"


def test_the_space_card_matches_the_pinned_gradio_and_links_the_paper():
    meta, body = front_matter(ROOT / "README.md")
    pinned = re.search(r"^gradio(?:\[[\w,]+\])?==([\d.]+)", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert meta["sdk"] == "gradio" and str(meta["sdk_version"]) == pinned and meta["app_file"] == "app.py"
    assert "arxiv:2110.06443" in meta["tags"] and PAPER in body
    # `models:` lists Hub checkpoints the Space uses; the demo checkpoint ships inside the repository.
    assert "models" not in meta or all("/" in m for m in meta["models"])
