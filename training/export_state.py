"""Export the EMA model of any training-state checkpoint, as train.py exports its last one: to
evaluate a run part-way (is held-out quality still improving at step k?) or to ship an earlier,
better step.

    python -m training.export_state runs/demo/checkpoints/state-00000600.pt --out runs/demo/export_600 [--data DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sensorium.data import SenseDataset
from sensorium.discriminator import MultiscaleDiscriminator
from sensorium.model import CONFIG_NAME, WEIGHTS_NAME, Sensorium

from . import checkpoint
from .config import TrainConfig
from .style_statistics import fit_style_statistics
from .train import dataset_info

EXPORT_FILES = {WEIGHTS_NAME, CONFIG_NAME, checkpoint.DISCRIMINATOR_NAME}


def export_state(state_path: Path, out: Path, data: str | None = None) -> Path:
    state = checkpoint.load_state(state_path)
    cfg = TrainConfig.from_dict(state["config"])
    model = Sensorium(cfg.model)
    model.load_state_dict(state["ema"], strict=True)
    dataset = SenseDataset(data or cfg.data, cfg.model.modalities)
    fit_style_statistics(model.eval(), dataset)  # the style Gaussian of this step's style space
    meta = dataset_info(dataset, cfg.model.modalities).replace(
        steps=int(state["step"]), data=str(data or cfg.data), extra={"exported_from": state_path.name})
    foreign = sorted(p.name for p in out.iterdir() if p.name not in EXPORT_FILES) if out.is_dir() else []
    if foreign:  # the export replaces its folder whole: never a run's folder, with its checkpoints
        raise SystemExit(f"--out {out} holds other files than an export ({', '.join(foreign[:3])}…): give a new folder")
    disc = MultiscaleDiscriminator.from_config(cfg.model)
    disc.load_state_dict(state["disc"], strict=True)
    return checkpoint.write_export(out, model, disc, cfg.export_dtype, meta)


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("state", type=Path, help="a state-XXXXXXXX.pt of a run's checkpoints/")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", help="the training data (default: the run's own --data)")
    args = p.parse_args(argv)
    try:
        out = export_state(args.state, args.out, args.data)
    except checkpoint.CorruptCheckpoint as exc:
        raise SystemExit(f"{args.state}: {exc}") from exc
    print(f"exported {out}")
    return out


if __name__ == "__main__":
    main()
