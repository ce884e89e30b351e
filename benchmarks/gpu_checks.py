"""CUDA behaviour checks (bf16 autocast, channels_last): the same properties the CPU tests prove,
on the device. Prints one line per check and a JSON summary; exits non-zero on a failure.

    python -m benchmarks.gpu_checks [--ports | --ports-only] [--out DIR]

With --ports, also the torch ports of mediapipe's networks on CUDA (benchmarks/gpu_ports.py):
their outputs against the CPU's, and training.prepare run on the GPU with them on the bundled
content photos, its maps against mediapipe's own (`.gpu_bundle/reference`, made by
benchmarks/gpu_bundle.py); the report lands in DIR. Imports neither mediapipe nor gradio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from sensorium.config import ModelConfig, tiny_config
from sensorium.layers import modulated_conv2d
from sensorium.model import Sensorium


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ports", action="store_true", help="also the mediapipe ports and prepare on CUDA")
    parser.add_argument("--ports-only", action="store_true", help="only those")
    parser.add_argument("--out", type=Path, help="where the ports' prepare report is written")
    parser.add_argument("--device", default="cuda", help="cpu: a dry run of the ports' checks (their plumbing)")
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    results = {}

    def check(name: str, ok: bool, detail: str = "") -> None:
        results[name] = {"ok": bool(ok), "detail": detail}
        print(f"{'PASS' if ok else 'FAIL'} {name} {detail}", flush=True)

    if not args.ports_only:
        model_checks(dev, check)
    if args.ports or args.ports_only:
        from benchmarks.gpu_ports import port_checks

        port_checks(dev, check, args.out)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(json.dumps({"device": name, "torch": torch.__version__, "checks": results}))
    return 0 if all(r["ok"] for r in results.values()) else 1


def model_checks(dev: torch.device, check) -> None:
    """The model's CUDA paths: modulated conv forms, bf16 + channels_last, fused runtimes, CPU parity."""
    torch.manual_seed(0)
    x, w, s = torch.randn(16, 128, 64, 64, device=dev), torch.randn(128, 128, 3, 3, device=dev), torch.rand(16, 128, device=dev) + 0.5
    with torch.autocast("cuda", torch.bfloat16):
        a = modulated_conv2d(x, w, s, form="scaled").float()
        b = modulated_conv2d(x, w, s, form="grouped").float()
    rel = ((a - b).abs().max() / a.abs().max()).item()
    check("modconv forms agree (bf16)", rel < 2e-2, f"max rel diff {rel:.2e}")
    std = a.std(dim=(1, 2, 3))
    check("demodulated output unit std (bf16)", bool(((std - 1).abs() < 0.1).all()), f"std range {std.min():.3f}-{std.max():.3f}")

    cfg = ModelConfig()
    model = Sensorium(cfg).eval().to(dev)
    for res in (128, 256, 512):
        maps = torch.rand(2, cfg.map_channels, res, res, device=dev).contiguous(memory_format=torch.channels_last)
        presence = torch.ones(2, len(cfg.modalities), device=dev)
        img = torch.rand(2, 3, res, res, device=dev) * 2 - 1
        cl = model.to(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16):
            out = cl(maps, presence, img)
        check(f"default model {res}² bf16+channels_last", out.shape == (2, 3, res, res) and bool(torch.isfinite(out).all()))

    torch.manual_seed(0)
    tiny = Sensorium(tiny_config()).eval()
    with torch.no_grad():
        for n, p in tiny.named_parameters():
            if "to_gamma" in n or "affine.weight" in n:
                p.normal_(0, 0.1)
    maps, presence, img = torch.rand(2, tiny.config.map_channels, 64, 64), torch.ones(2, 8), torch.rand(2, 3, 64, 64) * 2 - 1
    torch.backends.cudnn.allow_tf32 = False  # cuDNN convs default to TF32 (10-bit mantissa) on Ampere+
    with torch.inference_mode():
        ref = tiny(maps, presence, img)
        gpu = tiny.to(dev)(maps.to(dev), presence.to(dev), img.to(dev)).cpu()
        with torch.autocast("cuda", torch.bfloat16):
            gpu_bf16 = tiny(maps.to(dev), presence.to(dev), img.to(dev)).float().cpu()
        from sensorium.runtime.select import BUILDERS, parity_gap

        gaps = {name: parity_gap(BUILDERS[name](tiny), tiny) for name in ("fused", "fused-cl")}  # tiny is on CUDA
    torch.backends.cudnn.allow_tf32 = True
    check("fused runtimes equal eager on CUDA (fp32, TF32 off)", max(gaps.values()) <= 1e-4,
          ", ".join(f"{k} max |Δ| {v:.2e}" for k, v in gaps.items()))  # fmt: skip
    check("CUDA fp32 (TF32 off) equals CPU", (ref - gpu).abs().max().item() < 1e-3, f"max |Δ| {(ref - gpu).abs().max():.2e}")
    check("CUDA bf16 close to CPU fp32", (ref - gpu_bf16).abs().mean().item() < 2e-2, f"mean |Δ| {(ref - gpu_bf16).abs().mean():.2e}")
    with tempfile.TemporaryDirectory() as d:
        tiny.save_pretrained(d)
        loaded = Sensorium.from_pretrained(d, device=dev)
        with torch.inference_mode():
            same = torch.equal(loaded(maps.to(dev), presence.to(dev), img.to(dev)).cpu(), gpu)
    check("save/load round trip on CUDA", same)

    model.train()
    maps = torch.rand(2, cfg.map_channels, 128, 128, device=dev)
    with torch.autocast("cuda", torch.bfloat16):
        loss = model(maps, torch.ones(2, 8, device=dev), torch.rand(2, 3, 128, 128, device=dev)).float().mean()
    loss.backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None]
    check("bf16 backward reaches parameters", not dead, f"{len(dead)} without grad")


if __name__ == "__main__":
    sys.exit(main())
