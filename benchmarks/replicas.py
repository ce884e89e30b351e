"""Full-size random replicas of the default hub models, for timing where their weights are absent
(machines without hub access). Same architecture and input size as the published checkpoints, so
latency and memory are the real models'; the maps themselves are noise.

    python -m benchmarks.replicas OUT_DIR   # prints the SENSORIUM_*_MODEL settings to use them
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

# The architecture hyper-parameters of the published configs (config.json on the hub).
DEPTH_ANYTHING_V2_SMALL = {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6}
SEGFORMER_B0 = {"depths": [2, 2, 2, 2], "hidden_sizes": [32, 64, 160, 256], "decoder_hidden_size": 256}
SEGFORMER_B5 = {"depths": [3, 6, 40, 3], "hidden_sizes": [64, 128, 320, 512], "decoder_hidden_size": 768}


def depth_replica(path: Path) -> Path:
    """depth-anything/Depth-Anything-V2-Small-hf: DINOv2-S/14 + DPT head, 518 px input."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(**DEPTH_ANYTHING_V2_SMALL, patch_size=14, image_size=518, reshape_hidden_states=False,
                            out_indices=[3, 6, 9, 12])  # fmt: skip
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=384, patch_size=14,
                                 neck_hidden_sizes=[48, 96, 192, 384], fusion_hidden_size=64, head_hidden_size=32)  # fmt: skip
    torch.manual_seed(0)
    DepthAnythingForDepthEstimation(config).eval().save_pretrained(path)
    DPTImageProcessor(size={"height": 518, "width": 518}, keep_aspect_ratio=True, ensure_multiple_of=14,
                      resample=3, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(path)  # fmt: skip
    return path


def segformer_replica(path: Path, shape: dict, labels: list[str]) -> Path:
    """A SegFormer of the given MiT size with a 512² processor (the ADE and face-parsing models)."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    id2label = dict(enumerate(labels))
    config = SegformerConfig(**shape, num_labels=len(labels), id2label=id2label,
                             label2id={v: k for k, v in id2label.items()})  # fmt: skip
    torch.manual_seed(0)
    SegformerForSemanticSegmentation(config).eval().save_pretrained(path)
    SegformerImageProcessor(size={"height": 512, "width": 512}).save_pretrained(path)
    return path


def build_all(root: Path) -> dict[str, str]:
    """Build the three replicas under `root`; → the environment that makes the senses use them."""
    from sensorium.senses.face_parsing import CELEBAMASK_LABELS

    root.mkdir(parents=True, exist_ok=True)
    return {
        "SENSORIUM_DEPTH_MODEL": str(depth_replica(root / "depth-anything-v2-small")),
        "SENSORIUM_SEGMENTATION_MODEL": str(segformer_replica(root / "segformer-b0-ade", SEGFORMER_B0,
                                                              [f"class {i}" for i in range(150)])),
        "SENSORIUM_FACE_PARSING_MODEL": str(segformer_replica(root / "segformer-b5-face", SEGFORMER_B5,
                                                              list(CELEBAMASK_LABELS))),
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    for name, value in build_all(p.parse_args().out).items():
        print(f"export {name}={value}")


if __name__ == "__main__":
    main()
