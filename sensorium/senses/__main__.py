"""Extract conditioning maps of one image from the command line.

    python -m sensorium.senses IMAGE [--senses depth,pose] [--size 512] -o out/

Writes, per modality, `<stem>.<modality>.npy` (the (C, H, W) float32 map) and
`<stem>.<modality>.png` (its colour preview), and prints one line per sense: provider, status,
time. `--list` prints every provider and whether it can run here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..modalities import DEFAULT_MODALITIES
from .registry import SenseChoice, list_senses
from .senseset import SenseSet


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected MODALITY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sensorium.senses", description=__doc__.split("\n")[0])
    p.add_argument("image", nargs="?", help="input image (any format sensorium.images can read)")
    p.add_argument("--senses", default=",".join(DEFAULT_MODALITIES), help="comma-separated modalities")
    p.add_argument("--size", type=int, nargs="+", default=[512], help="S or H W of the maps (default 512)")
    p.add_argument("-o", "--out", default="senses_out", help="output directory")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    p.add_argument("--provider", action="append", default=[], metavar="MODALITY=NAME", help="pin a provider")
    p.add_argument("--model", action="append", default=[], metavar="MODALITY=ID_OR_DIR", help="model override")
    p.add_argument("--list", action="store_true", help="list providers and their availability, then exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for row in list_senses(check=True):
            state = "ok" if row["available"] else f"unavailable: {row['reason']}"
            print(f"{row['modality']:<15} {row['name']:<26} {state}")
        return 0
    if not args.image:
        raise SystemExit("an IMAGE is required (or --list)")
    from ..images import ImageError, load_image

    try:  # a mistake is one line and exit code 2, as in `python -m sensorium`
        modalities = [m.strip() for m in args.senses.split(",") if m.strip()]
        if not modalities:
            raise ValueError(f"--senses names no modality; known: {', '.join(DEFAULT_MODALITIES)}")
        if len(args.size) > 2 or min(args.size) < 1:
            raise ValueError(f"--size takes S or H W, positive, got {' '.join(map(str, args.size))}")
        providers, models = _pairs(args.provider), _pairs(args.model)
        overrides = {m: SenseChoice(providers.get(m), models.get(m)) for m in set(providers) | set(models)}
        if not Path(args.image).is_file():
            raise ValueError(f"{args.image} not found")
        image = load_image(args.image).image
        senses = SenseSet(modalities, device=args.device, overrides=overrides)
    except (ImageError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"sensorium senses: error: {message}", file=sys.stderr)
        return 2
    size = tuple(args.size) if len(args.size) == 2 else args.size[0]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(args.image).stem
    for m in modalities:  # one at a time so each line shows that sense's own time
        start = time.perf_counter()
        result = senses.extract(image, size, [m])
        seconds = time.perf_counter() - start
        sense = senses.sense(m)
        name = sense.name if sense else "-"
        if m not in result:
            print(f"{m:<15} {name:<26} unavailable  {result.notes.get(m, '')}")
            continue
        smap = result[m]
        np.save(out_dir / f"{stem}.{m}.npy", smap.tensor.numpy())
        smap.preview.save(out_dir / f"{stem}.{m}.png")
        state = "ok" if smap.found else "nothing found"
        note = f"  ({smap.note})" if smap.note else ""
        print(f"{m:<15} {name:<26} {state:<13} {seconds:6.2f} s  {tuple(smap.tensor.shape)}  {sense.label}{note}")
    print(f"wrote maps and previews to {out_dir}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
