"""Composites against memorised backgrounds: each training person, cut out with its own person
mask, pasted onto other scene photos, with the senses run again on the composite.

With ~100 photos a generator learns "this face comes with these red curtains": the background is
the cheapest thing to memorise. Showing the same person on many backgrounds breaks that pairing.
The senses re-run on the composite (not pasted maps), so edges, segmentation and pose see the new
scene exactly as they would see a real photo of it. The output folder holds the originals too, so
it is a drop-in `--data` for training.

    python -m training.composite data/prepared/portraits --backgrounds data/raw/scene \
        --out data/prepared/portraits_composites --per-image 2 [--seed 0]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from sensorium.atomic import write_atomic
from sensorium.data import list_samples, sample_providers, save_sample
from sensorium.images import IMAGE_SUFFIXES, ImageError, center_crop_square, load_image


def background_crop(path: Path, size: int, rng: random.Random) -> Image.Image | None:
    """A random square crop (60–100 % of the short side) of a scene photo, at size×size."""
    try:
        im = load_image(path, max_side=4096).image
    except (ImageError, OSError, ValueError):
        return None
    w, h = im.size
    side = int(min(w, h) * rng.uniform(0.6, 1.0))
    x0, y0 = rng.randint(0, w - side), rng.randint(0, h - side)
    return center_crop_square(im.crop((x0, y0, x0 + side, y0 + side)), size)


def paste(person: np.ndarray, mask: np.ndarray, background: Image.Image) -> Image.Image:
    """person (H, W, 3) uint8 over background through a softened person mask (H, W) in [0, 1]."""
    soft = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    alpha = np.asarray(soft, dtype=np.float32)[..., None] / 255
    out = alpha * person.astype(np.float32) + (1 - alpha) * np.asarray(background, dtype=np.float32)
    return Image.fromarray(out.round().clip(0, 255).astype(np.uint8))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="a prepared set (training/prepare.py) with person maps")
    p.add_argument("--backgrounds", type=Path, required=True, help="a folder of scene photos")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--per-image", type=int, default=2, help="composites made from each sample")
    p.add_argument("--min-person", type=float, default=0.05, help="skip samples whose person mask covers less")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    samples = list_samples(args.data)
    scenes = sorted(f for f in args.backgrounds.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) \
        if args.backgrounds.is_dir() else []  # fmt: skip
    if not samples:
        raise SystemExit(f"{args.data}: no prepared samples; run training/prepare.py first")
    if not scenes:
        raise SystemExit(f"--backgrounds {args.backgrounds}: no scene photos found")
    from sensorium.senses import SenseSet

    rng = random.Random(args.seed)
    senses: dict[tuple, SenseSet] = {}
    report = {"originals": 0, "composites": 0, "skipped": []}
    for path, domain in samples:
        dst_dir = args.out / (domain if path.parent != args.data else "")
        dst_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(dst_dir / path.name, path.read_bytes())  # a kill never leaves half a sample
        report["originals"] += 1
        with np.load(path) as data:
            image = data["image"]
            person = data["map_person"][0].astype(np.float32) / 255 if "map_person" in data.files else None
            modalities = tuple(k[4:] for k in data.files if k.startswith("map_"))
        if person is None or person.mean() < args.min_person:
            report["skipped"].append(f"{path.name}: no person mask to cut out")
            continue
        providers = sample_providers(path)
        key = (modalities, tuple(sorted(providers.items())))
        if key not in senses:  # the senses that made this sample's maps, so composites match them
            senses[key] = SenseSet(modalities, preferred=providers)
        for bg in rng.sample(scenes, min(args.per_image, len(scenes))):
            dst = dst_dir / f"{path.stem}__on_{bg.stem}.npz"
            background = background_crop(bg, image.shape[0], rng)  # drawn even when dst exists: a
            if dst.exists() or background is None:  # resumed run keeps the rng, so the same crops
                continue
            composite = paste(image, person, background)
            maps = senses[key].extract(composite, composite.size[::-1])
            tensors = {m: sm.tensor for m, sm in maps.items() if sm.found}
            made = {m: senses[key].sense(m).name for m in tensors}
            save_sample(dst, np.asarray(composite), tensors, notes=maps.notes, providers=made)
            report["composites"] += 1
    print(f"{report['originals']} originals and {report['composites']} composites in {args.out}; "
          f"{len(report['skipped'])} samples without a person skipped")  # fmt: skip
    return report


if __name__ == "__main__":
    main()
