"""A pip-installed Sensorium (fresh venv, `pip install .`, run outside the checkout) finds its
bundled demo checkpoint: the wheel carries it as package data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_pip_installed_cli_translates_with_its_bundled_checkpoint(tmp_path):
    venv = tmp_path / "venv"
    # System site-packages provide torch and the senses; the package itself comes from the wheel.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(ROOT)],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-2000:]
    work = tmp_path / "elsewhere"  # not the checkout: nothing there to find by relative path
    work.mkdir()
    content, style = ROOT / "assets/examples/content_obama_portrait.jpg", ROOT / "assets/examples/style_starry_night.jpg"
    env = {k: v for k, v in os.environ.items() if k not in ("SENSORIUM_CHECKPOINT", "PYTHONPATH")}
    done = subprocess.run([str(venv / "bin" / "sensorium"), "translate", str(content), str(style), "-o", "out.png",
                           "--resolution", "64", "--modalities", "edges"], cwd=work, env={**env, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "from sensorium.bundled import demo_checkpoint; "
                            "print(demo_checkpoint())"], cwd=work, env=env, capture_output=True, text=True)  # fmt: skip
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout  # the installed copy, not the checkout's
    assert Image.open(work / "out.png").size[1] == 64


def test_every_subpackage_is_in_the_wheel():
    """pyproject lists packages by name; a new subpackage left out installs a CLI that cannot import."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sensorium").rglob("__init__.py")}
    assert found - listed == set(), f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"


def test_the_packages_requirements_admit_the_pinned_set():
    """pyproject's ranges (what `pip install .[…]` takes) must hold for requirements.txt's pins (what
    the Space and CI install): a floor raised in the code but not in pyproject fails here."""
    import tomllib
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ranges = [Requirement(r) for r in project["dependencies"]]
    ranges += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            req = Requirement(line)
            pins[req.name.lower()] = next(iter(req.specifier)).version
    checked = [r.name for r in ranges if r.name.lower() in pins]
    assert len(checked) >= 8, checked
    wrong = [f"{r} vs =={pins[r.name.lower()]}" for r in ranges
             if r.name.lower() in pins and not r.specifier.contains(pins[r.name.lower()], prereleases=True)]  # fmt: skip
    assert not wrong, wrong
