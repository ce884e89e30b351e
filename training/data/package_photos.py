"""Where the demo photo collection comes from: packages that ship real photos, with their licences.

Each `from_*` fetcher installs or downloads its package with the ordinary client (pip, npm, apt)
when allowed, then yields `Photo`s with package, original path, licence and author. A fetcher
whose package is unavailable prints why and yields nothing, so collection goes on without it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
OPENCV_LICENCE = "Apache-2.0 AND BSD-3-Clause (OpenCV)"
APT_PACKAGES = ("opencv-doc", "mate-backgrounds", "lomiri-wallpapers-16.04", "plasma-workspace-wallpapers")
PLASMA_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "OneStandsOut",
    "Path",
    "Volna",
    "summer_1am",
)
FR = "face_recognition==1.3.0"
LOMIRI_NOT_PHOTOS = ("analogpattern", "greentock", "umang")  # renders, not photographs


@dataclass(frozen=True)
class Photo:
    """One source picture (or video frame), where it came from, and what to look for in it."""

    source: object  # anything `load_image` accepts
    package: str
    original: str
    licence: str
    author: str
    people: bool  # look for faces and persons
    scene: bool  # also keep whole-image square crops
    name: str = ""  # short unique name for output files, when the original's file name is generic


def run(cmd: list[str]) -> bool:
    """Run an installer command; on failure print why and carry on (a source is then skipped)."""
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
        print(f"  skip: {cmd[0]} is not available")
        return False
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  skip: {' '.join(cmd)} failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return done.returncode == 0


def from_sklearn(cache: Path, install: bool) -> Iterator[Photo]:
    from sklearn.datasets import load_sample_images

    authors = {"china.jpg": "danielbuechele (Flickr)", "flower.jpg": "vultilion (Flickr)"}
    data = load_sample_images()
    for name, image in zip(data.filenames, data.images, strict=True):
        base = Path(name).name
        yield Photo(
            image, "scikit-learn", f"sklearn/datasets/images/{base}", "CC-BY-2.0", authors.get(base, ""), False, True
        )


def from_skimage(cache: Path, install: bool) -> Iterator[Photo]:
    import skimage.data as skd

    yield Photo(skd.astronaut(), "scikit-image", "skimage/data/astronaut.png", "public domain", "NASA", True, False)
    yield Photo(skd.coffee(), "scikit-image", "skimage/data/coffee.png", "CC0", "Rachel Michetti", False, True)
    yield Photo(skd.chelsea(), "scikit-image", "skimage/data/chelsea.png", "CC0", "Stefan van der Walt", False, True)


def from_face_recognition(cache: Path, install: bool) -> Iterator[Photo]:
    """The face_recognition sdist (not the wheel) carries its test photos."""
    sdist = cache / "face_recognition-1.3.0.tar.gz"  # the wheel has no tests/
    if not sdist.exists() and install:
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", *["-d", str(cache)], FR])
    yield from tar_images(
        sdist, "*/tests/test_images/*.jpg", "face_recognition 1.3.0 (pip sdist)", "MIT", "Adam Geitgey (package)"
    )


def from_face_api(cache: Path, install: bool) -> Iterator[Photo]:
    """Group photos (3-5 people each) from the face-api demo; the README says the author took them."""
    tgz = cache / "vladmandic-face-api-1.7.15.tgz"
    if not tgz.exists() and install:
        run(["npm", "pack", "@vladmandic/face-api@1.7.15", "--pack-destination", str(cache)])
    yield from tar_images(
        tgz, "package/demo/sample*.jpg", "@vladmandic/face-api 1.7.15 (npm)", "MIT", "Vladimir Mandic"
    )


def tar_images(archive: Path, pattern: str, package: str, licence: str, author: str) -> Iterator[Photo]:
    if not archive.exists():
        print(f"  skip: {archive.name} not found")
        return
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile() and fnmatch(member.name, pattern):
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                yield Photo(data, package, member.name, licence, author, True, False)


def apt_install(install: bool) -> None:
    """opencv-doc and the wallpaper packages; needs root. Without them those sources are skipped."""
    missing = [p for p in APT_PACKAGES if not Path(f"/usr/share/doc/{p}").exists()]
    if missing and install:
        print(f"  apt-get install {' '.join(missing)}")
        run(["apt-get", "update", "-qq"])  # a fresh machine has no package lists yet
        run(["apt-get", "install", "-y", "--no-install-recommends", *missing])


def from_opencv(cache: Path, install: bool, every: int) -> Iterator[Photo]:
    if not OPENCV_DATA.exists():
        print("  skip: opencv-doc is not installed")
        return
    for name, people in [("messi5.jpg", True), ("building.jpg", False), ("leuvenA.jpg", False), ("aero3.jpg", False)]:
        yield Photo(
            OPENCV_DATA / name, "opencv-doc (apt)", f"examples/data/{name}", OPENCV_LICENCE, "", people, not people
        )
    yield from video_frames(OPENCV_DATA / "vtest.avi", every)


def video_frames(path: Path, every: int) -> Iterator[Photo]:
    """Every `every`-th frame of the pedestrians video: people to crop; only frame 0 as a scene."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % every == 0:
            rgb = np.ascontiguousarray(frame[:, :, ::-1])  # OpenCV decodes BGR
            yield Photo(
                rgb,
                "opencv-doc (apt)",
                f"examples/data/{path.name}#frame{index:04d}",
                OPENCV_LICENCE,
                "",
                True,
                index == 0,
            )
        index += 1
    cap.release()


def debian_copyright(package: str) -> list[tuple[list[str], str, str]]:
    """(patterns, copyright, licence) paragraphs of a machine-readable debian/copyright file."""
    path = Path(f"/usr/share/doc/{package}/copyright")
    out: list[tuple[list[str], str, str]] = []
    for para in path.read_text(errors="replace").split("\n\n") if path.exists() else []:
        fields: dict[str, str] = {}
        key = ""
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if "Files" in fields:
            out.append((fields["Files"].split(), fields.get("Copyright", ""), fields.get("License", "").split(" ")[0]))
    return out


def licence_for(package: str, path: Path) -> tuple[str, str]:
    """(licence, copyright holder) for an installed file; as in DEP-5, the last matching paragraph wins."""
    found = ("", "")
    for patterns, holder, licence in debian_copyright(package):
        if any(dep5_matches(p, path) for p in patterns):
            found = (licence, holder)
    return found


def dep5_matches(pattern: str, installed: Path) -> bool:
    """Source-tree patterns vs an installed path: exact names match by basename, globs by their tail."""
    if pattern == "*":
        return True
    if pattern.startswith("debian/"):
        return False
    name = Path(pattern).name
    if not any(c in name for c in "*?["):
        return name == installed.name
    depth = len(Path(pattern).parts)
    return fnmatch("/".join(installed.parts[-depth:]), pattern)


def from_wallpapers(cache: Path, install: bool) -> Iterator[Photo]:
    for path in sorted(Path("/usr/share/backgrounds/mate/nature").glob("*.jpg")):
        licence, author = licence_for("mate-backgrounds", path)
        yield Photo(path, "mate-backgrounds (apt)", str(path), licence, author, False, True)
    for path in sorted(Path("/usr/share/backgrounds").glob("*_by_*.jpg")):
        if not path.name.startswith(LOMIRI_NOT_PHOTOS):
            licence, author = licence_for("lomiri-wallpapers-16.04", path)
            yield Photo(path, "lomiri-wallpapers-16.04 (apt)", str(path), licence, author, False, True)
    for name in PLASMA_PHOTOS:
        folder = Path("/usr/share/wallpapers") / name
        images = sorted((folder / "contents/images").glob("*.jpg"), key=lambda p: p.stat().st_size)
        if images:
            meta = (
                json.loads((folder / "metadata.json").read_text()).get("KPlugin", {})
                if (folder / "metadata.json").exists()
                else {}
            )
            author = ", ".join(a.get("Name", "") for a in meta.get("Authors", []))
            best = next((p for p in images if p.name == "1920x1080.jpg"), images[-1])
            yield Photo(
                best,
                "plasma-workspace-wallpapers (apt)",
                str(best),
                meta.get("License", "GPL-2+"),
                author,
                False,
                True,
                name,
            )


def sources(every: int) -> list[tuple[str, Callable[[Path, bool], Iterator[Photo]]]]:
    """(label, fetcher) pairs in a fixed order, so dedup keeps the same crops on every run."""
    return [
        ("scikit-learn", from_sklearn),
        ("scikit-image", from_skimage),
        ("face_recognition sdist", from_face_recognition),
        ("@vladmandic/face-api", from_face_api),
        ("opencv-doc", lambda cache, install: from_opencv(cache, install, every)),
        ("wallpapers", from_wallpapers),
    ]
