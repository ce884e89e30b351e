"""Run logging: a tqdm bar with img/s, tensorboard scalars and images, a `log.jsonl` that tests
and plots can read, and sample grids (content | maps | style | reconstruction | random pair)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from sensorium.atomic import write_atomic
from sensorium.conditioning import expand_presence
from sensorium.config import ModelConfig


def maps_to_rgb(maps: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] → (B, 3, H, W) in [-1, 1] via a fixed random colour per channel."""
    colors = torch.rand(maps.shape[1], 3, generator=torch.Generator().manual_seed(7)).to(maps)
    rgb = torch.einsum("bchw,cd->bdhw", maps.float(), colors)
    return (rgb / rgb.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)) * 2 - 1


def drop_after(path: Path, step: int) -> None:
    """Keep only the records of `path` up to `step` (the resumed one), so a resumed run's log has
    each step once and in order; a line cut by the kill goes too."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    write_atomic(path, "".join(f"{line}\n" for line in kept).encode())


class RunLogger:
    def __init__(self, out: Path, enabled: bool, total: int, start: int):
        self.enabled = enabled
        self.out = out
        self.writer = None
        self.bar = None
        self._t, self._n = time.perf_counter(), 0
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out / "tb"), purge_step=start + 1 if start else None)  # a resume drops the replayed steps
        except Exception as exc:  # tensorboard is optional
            print(f"tensorboard unavailable ({exc}); logging to log.jsonl only", flush=True)
        try:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, dynamic_ncols=True, mininterval=2.0)
        except ImportError:
            pass
        drop_after(out / "log.jsonl", start)  # steps logged after the resumed checkpoint are run again
        self.jsonl = open(out / "log.jsonl", "a")  # noqa: SIM115 - open for the whole run, closed in close()

    def step(self, step: int, stats: dict[str, float], images: int, log_now: bool) -> None:
        if not self.enabled:
            return
        self._n += images
        if self.bar is not None:
            self.bar.update(1)
        if not log_now:
            return
        now = time.perf_counter()
        ips = self._n / max(now - self._t, 1e-9)
        self._t, self._n = now, 0
        # Stats arrive as device tensors: read them here, once per log step, not once per step.
        record = {"step": step, "img_per_s": round(ips, 2), **{k: round(float(v), 5) for k, v in stats.items()}}
        if torch.cuda.is_available():
            record["peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        if self.bar is not None:
            self.bar.set_postfix(img_s=f"{ips:.1f}", g=f"{record.get('g_loss', 0):.3f}", d=f"{record.get('d_loss', 0):.3f}")
        if self.writer is not None:
            for k, v in record.items():
                if k != "step":
                    self.writer.add_scalar(k, v, step)

    @torch.no_grad()
    def sample_grid(self, step: int, ema, batch, cfg: ModelConfig, n: int = 4) -> Path:
        from torchvision.utils import save_image

        n = min(n, batch.image.shape[0])
        image, maps, presence = batch.image[:n], batch.maps[:n], batch.presence[:n]
        styles = batch.image[batch.pair[:n]]
        domains = batch.domain[:n]
        rec = ema(maps.float(), presence, image.float(), domains)
        paired = ema(maps.float(), presence, styles.float(), batch.domain[batch.pair[:n]])
        shown = maps * expand_presence(presence, cfg.modalities)[:, :, None, None]
        rows = torch.stack([image, maps_to_rgb(shown), styles, rec, paired], dim=1).flatten(0, 1).float()
        path = self.out / "samples" / f"step_{step:08d}.png"
        path.parent.mkdir(exist_ok=True)
        save_image(rows * 0.5 + 0.5, path, nrow=5, padding=2)
        if self.writer is not None:
            from torchvision.utils import make_grid

            self.writer.add_image("samples", make_grid(rows * 0.5 + 0.5, nrow=5), step)
        return path

    def close(self) -> None:
        if self.enabled:
            if self.bar is not None:
                self.bar.close()
            if self.writer is not None:
                self.writer.close()
            self.jsonl.close()
