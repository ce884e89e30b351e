"""Bias-correct the EMA weights of an export made without EMA warm-up.

An EMA started at the random initialisation W0 with decay d holds d**T of W0 after T steps
(0.75 for d=0.999, T=288): short runs export mostly noise. Since W0 is a pure function of the
seed, it can be rebuilt and removed, as Adam corrects its moment estimates:

    W = (EMA_T - d**T W0) / (1 - d**T)

then the style statistics are refitted on the training data. Runs trained with the current
train.py (EMA warm-up) do not need this.

    python -m training.debias_ema EXPORT --steps 288 --decay 0.999 --seed 0 --data DATA --out DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sensorium.data import SenseDataset
from sensorium.model import Sensorium

from .style_statistics import fit_style_statistics


def debias(ema: Sensorium, steps: int, decay: float, seed: int) -> Sensorium:
    torch.manual_seed(seed)  # train.py seeds exactly like this before building the model
    init = Sensorium(ema.config)
    share = decay**steps
    params = {n for n, _ in ema.named_parameters()}
    e, z = ema.state_dict(), init.state_dict()
    fixed = {k: (e[k] - share * z[k]) / (1 - share) if k in params else e[k] for k in e}
    out = Sensorium(ema.config)
    out.load_state_dict(fixed, strict=True)
    return out.eval()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--decay", type=float, default=0.999)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", required=True, help="training data, to refit the style statistics")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)

    ema = Sensorium.from_pretrained(args.export)
    model = debias(ema, args.steps, args.decay, args.seed)
    fit_style_statistics(model, SenseDataset(args.data, model.config.modalities))  # every domain's head
    debiased = {"steps": args.steps, "decay": args.decay, "seed": args.seed}
    meta = ema.info.replace(extra={**ema.info.extra, "ema_debiased": debiased})
    model.save_pretrained(args.out, dtype=torch.float16, metadata=meta)
    print(json.dumps(meta.to_dict(), indent=2))


if __name__ == "__main__":
    main()
