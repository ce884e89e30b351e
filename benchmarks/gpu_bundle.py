"""What the GPU machines lack for the ports, gathered here into `.gpu_bundle/` (git-ignored) to
travel with the working tree: they have torch but no mediapipe, no `tflite` reader and no network.

    python -m benchmarks.gpu_bundle [--out .gpu_bundle]

  mediapipe_modules/   the bundled .tflite files of the ported networks (mediapipe 0.10.21's
                       modules/ layout; $SENSORIUM_MEDIAPIPE_MODULES points there)
  wheels/              the pure-Python `tflite` flatbuffer reader (its one need, flatbuffers, is there)
  reference/           training.prepare's files of the bundled content photos made here by
                       mediapipe itself (CPU), for the GPU checks to compare the CUDA maps against

`bash benchmarks/gpu.sh ports DIR` uses it (about 5 MB).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTED = ("selfie_segmentation", "face_detection", "face_landmark")  # mediapipe modules/ folders the ports read
REFERENCE_SENSES = "person,face_landmarks,face_parsing,face_depth,edges"
RESOLUTION = 256


def content_photos(folder: Path) -> Path:
    """The bundled content examples (portraits and groups) in one folder, as prepare reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "assets/examples").glob("content_*.jpg")):
        shutil.copy(path, folder / path.name)
    return folder


def bundle(out: Path) -> None:
    from sensorium.senses.mediapipe_ports import SELFIE_MODEL, mediapipe_model

    modules = mediapipe_model(SELFIE_MODEL).parents[1]
    for folder in PORTED:
        for model in sorted((modules / folder).glob("*.tflite")):
            target = out / "mediapipe_modules" / folder / model.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(model, target)
    version = importlib.metadata.version("tflite")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                    f"tflite=={version}", "-d", str(out / "wheels")], check=True)  # fmt: skip
    from training.prepare import main as prepare_main

    shutil.rmtree(out / "reference", ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = prepare_main([str(content_photos(Path(tmp))), "--out", str(out / "reference"), "--resolution",
                               str(RESOLUTION), "--senses", REFERENCE_SENSES, "--sense-device", "cpu", "--workers", "1"])  # fmt: skip
    ran = report["senses"]
    if ran["person"].split(" ")[0] != "person-selfie":
        raise SystemExit(f"the reference needs mediapipe itself; person ran as {ran['person']}")
    print(f"{out}: {sum(f.stat().st_size for f in out.rglob('*') if f.is_file()) / 1e6:.1f} MB; reference senses {ran}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu_bundle")
    bundle(parser.parse_args().out)


if __name__ == "__main__":
    main()
