"""Multi-domain data sets, laid out as `root/<domain>/…` (what prepare.py and SenseDataset read).

    # CelebA-HQ male/female from CelebAMask-HQ's attribute list (links, not copies):
    python -m training.data.domains split data/CelebAMask-HQ/CelebA-HQ-img \
        --attributes data/CelebAMask-HQ/CelebAMask-HQ-attribute-anno.txt --attribute Male \
        --names female,male --val 1000 --out data/raw/celebahq
    # the offline stand-in: prepared sets as domains, held out by source photo, resized:
    python -m training.data.domains build --domain portraits=data/prepared/portraits,data/prepared/portraits_val \
        --domain scenes=data/prepared/scenes --val 12 --resolution 64 --out data/prepared/standin_64

Both write `out/train/<domain>/` and `out/val/<domain>/`, and hold out whole source photos: crops
of one photo (collect.py names them `PHOTO_<crop>`) never land on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from sensorium.atomic import write_atomic
from sensorium.data import CACHE_SUFFIX, load_sample, sample_providers, save_sample


def read_attributes(path: Path, attribute: str) -> dict[str, bool]:
    """CelebA's `list_attr_celeba.txt` format (CelebAMask-HQ's `…-attribute-anno.txt` too): a count
    line, a line of attribute names, then `file v1 v2 …` with 1 / -1. → file name → attribute set."""
    lines = path.read_text().splitlines()
    names = lines[1].split()
    if attribute not in names:
        raise SystemExit(f"{path} has no attribute {attribute!r}; it has {', '.join(names)}")
    col = names.index(attribute)
    result = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == len(names) + 1:
            result[parts[0]] = parts[1 + col] == "1"
    return result


def source_of(stem: str) -> str:
    """Photo a file was cropped from: its name without the last `_<crop>` part (`a_s0`, `a_s1` → `a`)."""
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def held_out(stems: list[str], count: int, seed: int) -> set[str]:
    """A seeded choice of whole source photos holding at least `count` of `stems` (fewer if all would go)."""
    per_source = Counter(source_of(s) for s in stems)
    sources = sorted(per_source)
    order = torch.randperm(len(sources), generator=torch.Generator().manual_seed(seed)).tolist()
    chosen: set[str] = set()
    for i in order:
        if sum(per_source[c] for c in chosen) >= count:
            break
        chosen.add(sources[i])
    val = {s for s in stems if source_of(s) in chosen}
    if len(val) == len(stems):
        raise SystemExit(f"holding out {count} leaves nothing to train on ({len(stems)} files, {len(sources)} photos)")
    return val


def split(images: Path, attributes: Path, attribute: str, names: tuple[str, str], val: int, out: Path,
          seed: int = 0) -> dict[str, dict[str, int]]:  # fmt: skip
    """Link each image into out/{train,val}/<names[attribute set]>/; `val` images per domain held out."""
    labels = read_attributes(attributes, attribute)
    counts: dict[str, dict[str, int]] = {"train": {}, "val": {}}
    for flag, name in ((False, names[0]), (True, names[1])):
        files = sorted(f for f, v in labels.items() if v == flag and (images / f).is_file())
        if not files:
            raise SystemExit(f"no images of {images} are listed in {attributes} as {attribute}={flag}")
        val_stems = held_out([Path(f).stem for f in files], val, seed)
        for f in files:
            part = "val" if Path(f).stem in val_stems else "train"
            dst = out / part / name / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                os.symlink((images / f).resolve(), dst)
            counts[part][name] = counts[part].get(name, 0) + 1
    return counts


def resized(path: Path, resolution: int) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
    """A prepared sample at another resolution: Lanczos for the photo, area averaging for the maps."""
    image, maps = load_sample(path)
    if image.shape[0] != resolution or image.shape[1] != resolution:
        image = np.asarray(Image.fromarray(image).resize((resolution, resolution), Image.LANCZOS))
    out = {}
    for name, m in maps.items():
        t = torch.from_numpy(m).float()[None] / 255  # (1, C, H, W)
        if t.shape[-1] != resolution or t.shape[-2] != resolution:
            t = F.interpolate(t, size=(resolution, resolution), mode="area")
        out[name] = t[0]
    return image, out


def build(domains: dict[str, list[Path]], val: int, out: Path, resolution: int | None = None,
          seed: int = 0) -> dict[str, dict[str, int]]:  # fmt: skip
    """Prepared folders as domains: out/{train,val}/<domain>/*.npz, `val` files per domain held out."""
    counts: dict[str, dict[str, int]] = {"train": {}, "val": {}}
    for name, dirs in domains.items():
        files = sorted(f for d in dirs for f in d.glob(f"*{CACHE_SUFFIX}") if not f.name.endswith(".tmp.npz"))
        if not files:
            raise SystemExit(f"no prepared samples for domain {name} in {[str(d) for d in dirs]}")
        val_stems = held_out([f.stem for f in files], val, seed)
        for f in files:
            part = "val" if f.stem in val_stems else "train"
            dst = out / part / name / f.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            if resolution is None:
                write_atomic(dst, f.read_bytes())  # a kill never leaves half a sample under its name
            else:
                save_sample(dst, *resized(f, resolution), providers=sample_providers(f))  # senses travel on
            counts[part][name] = counts[part].get(name, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("split", help="split raw images into two domains by a CelebA attribute")
    s.add_argument("images", type=Path)
    s.add_argument("--attributes", type=Path, required=True, help="CelebA-format attribute list")
    s.add_argument("--attribute", default="Male")
    s.add_argument("--names", default="female,male", help="domain names for attribute -1,1")
    b = sub.add_parser("build", help="prepared folders as domains, with a held-out part")
    b.add_argument("--domain", action="append", required=True, metavar="NAME=DIR[,DIR…]")
    b.add_argument("--resolution", type=int, help="resize images and maps to this side")
    for q in (s, b):
        q.add_argument("--val", type=int, required=True, help="files held out per domain")
        q.add_argument("--out", type=Path, required=True)
        q.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.command == "split":
        names = tuple(args.names.split(","))
        if len(names) != 2:
            raise SystemExit("--names takes two names: for attribute -1 and 1")
        counts = split(args.images, args.attributes, args.attribute, names, args.val, args.out, args.seed)
    else:
        domains = {}
        for item in args.domain:
            name, _, dirs = item.partition("=")
            domains[name] = [Path(d) for d in dirs.split(",") if d]
        counts = build(domains, args.val, args.out, args.resolution, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"argv": sys.argv[1:] if argv is None else argv, **counts}
    (args.out / "domains.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(counts, indent=2))
    return counts


if __name__ == "__main__":
    main()
