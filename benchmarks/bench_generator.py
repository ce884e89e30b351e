"""Generator speed: batch-1 latency and batch-16 throughput at several resolutions and precisions,
FLOPs per image and the fraction of the device's peak, plus the same table for a plain SPADE
generator of equal width and depth (no style modulation, no fusion) so Sensorium's extras are a
measured ratio. Also times the style encoder and the content encoder on their own.

    python -m benchmarks.bench_generator [--quick] [--device cuda] [--config demo|default]
    python -m benchmarks.bench_generator --device cuda --config default --res 256 \
        --modes bf16+cl+compile --batches 16       # one cell of the full table
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from sensorium.config import DEMO_ARCHITECTURE, ModelConfig
from sensorium.model import Sensorium

from .common import header, peak_tflops, publish, time_call

MODES = ("fp32", "bf16", "bf16+cl", "bf16+cl+compile")
DEMO_CONFIG = DEMO_ARCHITECTURE


def toggle_path(model: Sensorium, maps, presence, style):
    """What a modality toggle in the app runs: content encoder + generator on a cached style."""
    return model.generate(model.encode_content(maps, presence), style)


def flops_per_image(model: Sensorium, res: int) -> float:
    cfg = model.config
    maps, presence = torch.rand(1, cfg.map_channels, res, res), torch.ones(1, len(cfg.modalities))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        toggle_path(model.cpu(), maps, presence, torch.randn(1, cfg.style_dim))
    return counter.get_total_flops()


def run_mode(model: Sensorium, res: int, batch: int, mode: str, device: torch.device, iters: int) -> float:
    cfg = model.config
    bf16 = mode != "fp32"
    fmt = torch.channels_last if ("cl" in mode or "compile" in mode) else torch.contiguous_format
    m = model.to(device, memory_format=fmt)
    maps = torch.rand(batch, cfg.map_channels, res, res, device=device).contiguous(memory_format=fmt)
    presence = torch.ones(batch, len(cfg.modalities), device=device)
    style = torch.randn(batch, cfg.style_dim, device=device)
    fn = toggle_path
    if "compile" in mode:
        fn = torch.compile(toggle_path, mode="reduce-overhead" if device.type == "cuda" else "default", dynamic=False)

    def call():
        with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            return fn(m, maps, presence, style)

    median, _ = time_call(call, device, warmup=3 if "compile" in mode else 2, iters=iters)
    return median


def bench(cfg: ModelConfig, device: torch.device, resolutions, modes, batches, iters: int) -> list[dict]:
    rows = []
    for name, c in (("sensorium", cfg), ("plain SPADE", dataclasses.replace(cfg, modulation="none", use_fusion=False))):
        torch.manual_seed(0)
        model = Sensorium(c).eval()
        for res in resolutions:
            gflop = flops_per_image(model, res) / 1e9
            for mode in modes:
                for batch in batches:
                    if device.type == "cpu" and batch > 1 and res > 128:
                        continue  # minutes per point on 2 cores; says nothing new
                    try:
                        sec = run_mode(model, res, batch, mode, device, iters)
                    except Exception as exc:  # e.g. compile unsupported here: report, don't die
                        rows.append({"model": name, "res": res, "mode": mode, "batch": batch, "error": str(exc)[:80]})
                        continue
                    rows.append({"model": name, "res": res, "mode": mode, "batch": batch, "gflop": gflop,
                                 "ms_per_call": sec * 1e3, "ms_per_img": sec * 1e3 / batch,
                                 "tflops": gflop * batch / sec / 1e3})  # fmt: skip
                    print("  ", rows[-1], flush=True)  # partial results survive a time limit
    return rows


def encoders(cfg: ModelConfig, device: torch.device, res: int, iters: int) -> list[tuple[str, float]]:
    torch.manual_seed(0)
    model = Sensorium(cfg).eval().to(device)
    bf16 = device.type == "cuda"
    img = torch.rand(1, 3, res, res, device=device) * 2 - 1
    maps = torch.rand(1, cfg.map_channels, res, res, device=device)
    presence = torch.ones(1, len(cfg.modalities), device=device)
    out = []
    for label, fn in (("style encoder", lambda: model.encode_style(img)),
                      ("content encoder", lambda: model.encode_content(maps, presence))):  # fmt: skip
        def call(fn=fn):
            with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                return fn()
        out.append((label, time_call(call, device, iters=iters)[0] * 1e3))
    return out


def format_rows(rows: list[dict], peak: float | None) -> str:
    lines = ["| model | res | mode | batch | GFLOP/img | ms/call | ms/img | TFLOP/s | % peak |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['res']} | {r['mode']} | {r['batch']} | | error: {r['error']} | | | |")
            continue
        pct = f"{100 * r['tflops'] / peak:.1f}" if peak and r["mode"] != "fp32" else "–"
        lines.append(f"| {r['model']} | {r['res']}² | {r['mode']} | {r['batch']} | {r['gflop']:.1f} | "
                     f"{r['ms_per_call']:.2f} | {r['ms_per_img']:.2f} | {r['tflops']:.2f} | {pct} |")  # fmt: skip
    ratios = []
    for r in rows:
        base = next((b for b in rows if b["model"] == "plain SPADE" and "error" not in b and "error" not in r
                     and (b["res"], b["mode"], b["batch"]) == (r["res"], r["mode"], r["batch"])), None)  # fmt: skip
        if r["model"] == "sensorium" and base:
            ratios.append(f"{r['res']}²/{r['mode']}/b{r['batch']}: {r['ms_per_call'] / base['ms_per_call']:.2f}×")
    if ratios:
        lines.append("\nSensorium / plain SPADE time ratio (same run): " + ", ".join(ratios))
    return "\n".join(lines)


def run(quick: bool = True, device: str | None = None, config: str = "demo", write: bool = True,
        only: dict | None = None, json_path: Path | None = None, width: int | None = None) -> str:  # fmt: skip
    """`only` narrows the grid (keys "resolutions", "modes", "batches"), e.g. to the cells a
    time-limited run still lacks. `width` widens the demo config (channels, style channels and
    fusion widths all set to it), to see what a wider shipped model would cost."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cfg = ModelConfig.demo() if config == "demo" else ModelConfig()
    if width:
        cfg = dataclasses.replace(cfg, channels=width, style_channels=width, fusion_hidden=width, fusion_style_dim=width)
    if dev.type == "cuda":
        resolutions, modes, batches, iters = (128, 256, 512), MODES, (1, 16), 30
        if quick:
            resolutions, modes = (256,), ("fp32", "bf16+cl", "bf16+cl+compile")
    else:
        resolutions, modes, batches, iters = ((128, 256) if quick else (128, 256, 512)), ("fp32",), (1,), (3 if quick else 10)
    only = only or {}
    resolutions, modes = only.get("resolutions") or resolutions, only.get("modes") or modes
    batches = only.get("batches") or batches
    rows = bench(cfg, dev, resolutions, modes, batches, iters)
    if json_path:
        json_path.write_text(json.dumps(rows, indent=1))
    enc = encoders(cfg, dev, 256, iters)
    described = json.dumps({**DEMO_CONFIG, **({"width": width} if width else {})}) if config == "demo" else "ModelConfig()"
    text = header(f"Generator ({config} config: {described})", dev)
    text += "\n" + format_rows(rows, peak_tflops(dev)) + "\n\n"
    text += "\n".join(f"- {label}, 256², batch 1: {ms:.2f} ms" for label, ms in enc) + "\n"
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device")
    p.add_argument("--config", choices=("demo", "default"), default="demo")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--json", type=Path, help="also write the raw rows here")
    p.add_argument("--res", type=int, nargs="+", help="only these resolutions")
    p.add_argument("--modes", nargs="+", choices=MODES, help="only these modes")
    p.add_argument("--batches", type=int, nargs="+", help="only these batch sizes")
    p.add_argument("--width", type=int, help="demo config with this width (channels, style and fusion widths)")
    a = p.parse_args()
    run(a.quick, a.device, a.config, not a.no_write, {"resolutions": a.res, "modes": a.modes, "batches": a.batches},
        a.json, a.width)


if __name__ == "__main__":
    main()
