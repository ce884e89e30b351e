"""Parameter and FLOP summary of a Sensorium config: `python -m sensorium.summary [--resolution 256]`.

FLOPs are counted by torch's FlopCounterMode on one forward pass (multiply-add = 2 FLOPs).
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from .config import DEFAULT_RESOLUTION, ModelConfig
from .discriminator import MultiscaleDiscriminator
from .model import Sensorium


def count_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def summarize(config: ModelConfig, resolution: int) -> list[tuple[str, int, float]]:
    """Rows of (part, parameters, GFLOP per image at resolution²)."""
    model = Sensorium(config).eval()
    disc = MultiscaleDiscriminator.from_config(config)
    maps = torch.rand(1, config.map_channels, resolution, resolution)
    presence = torch.ones(1, len(config.modalities))
    image = torch.rand(1, 3, resolution, resolution) * 2 - 1

    def flops(fn) -> float:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            fn()
        return counter.get_total_flops() / 1e9

    content = model.encode_content(maps, presence)
    style = model.encode_style(image)
    return [
        ("content encoder", count_params(model.content_encoder), flops(lambda: model.encode_content(maps, presence))),
        ("style encoder", count_params(model.style_encoder), flops(lambda: model.encode_style(image))),
        ("generator", count_params(model.generator), flops(lambda: model.generate(content, style))),
        ("discriminator", count_params(disc), flops(lambda: disc(image, maps if config.disc_conditional else None))),
    ]


def format_table(rows: list[tuple[str, int, float]], resolution: int) -> str:
    lines = [f"| part ({resolution}²) | parameters | GFLOP / image |", "| --- | ---: | ---: |"]
    for name, params, gflop in rows:
        lines.append(f"| {name} | {params / 1e6:.2f} M | {gflop:.1f} |")
    inference = [r for r in rows if r[0] != "discriminator"]
    lines.append(f"| **inference total** | {sum(r[1] for r in inference) / 1e6:.2f} M | "
                 f"{sum(r[2] for r in inference):.1f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resolution", type=int, default=DEFAULT_RESOLUTION)
    parser.add_argument("--checkpoint", help="summarise this checkpoint's config instead of the default")
    args = parser.parse_args()
    config = ModelConfig()
    if args.checkpoint:
        config = Sensorium.from_pretrained(args.checkpoint).config
    print(format_table(summarize(config, args.resolution), args.resolution))


if __name__ == "__main__":
    main()
