"""Training data: one `.npz` per image holding the prepared image and its cached sense maps.

Written by `training/prepare.py`, read here. Maps are stored as uint8 (1/255 steps are far below
what the senses resolve) so a few hundred images fit in memory and in a Space repo.
Layout: `root/<domain>/<name>.npz` (a single-domain set may put files directly in `root`).
"""

from __future__ import annotations

import os
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .atomic import atomic_path
from .modalities import MODALITIES

CACHE_SUFFIX = ".npz"


def save_sample(path: Path, image: np.ndarray, maps: Mapping[str, torch.Tensor], notes: Mapping[str, str] | None = None,
                providers: Mapping[str, str] | None = None) -> None:  # fmt: skip
    """image (H, W, 3) uint8; maps: modality → (C, H, W) float in [0, 1]; providers: modality →
    the sense that made the map (travels into the export, see sample_providers). Written atomically."""
    arrays = {"image": image}
    for name, m in maps.items():
        arrays[f"map_{name}"] = (m.clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    for name, note in (notes or {}).items():
        arrays[f"note_{name}"] = np.array(note)
    for name, provider in (providers or {}).items():
        arrays[f"sense_{name}"] = np.array(provider)
    with atomic_path(path, suffix=".npz") as tmp:  # savez appends .npz to any other name
        np.savez_compressed(tmp, **arrays)


class SampleError(ValueError):
    """A prepared sample that cannot be used (damaged, or of another size than the set); the message
    names the file and what to do."""


@contextmanager
def _opened(path: Path) -> Iterator[np.lib.npyio.NpzFile]:
    """The sample's archive; whatever goes wrong reading it becomes a SampleError naming the file."""
    try:
        with np.load(path) as data:  # allow_pickle stays False: a sample can never run code
            yield data
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise SampleError(f"{path}: not a readable prepared sample ({type(exc).__name__}: {exc}); "
                          "delete it and run training/prepare.py again") from None  # fmt: skip


def load_sample(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    with _opened(path) as data:
        image = data["image"]
        maps = {k[4:]: data[k] for k in data.files if k.startswith("map_")}
    if image.ndim != 3 or image.shape[2] != 3:
        raise SampleError(f"{path}: its image has shape {image.shape}, not (H, W, 3)")
    return image, maps


def sample_providers(path: Path) -> dict[str, str]:
    """modality → provider name recorded by prepare.py (empty for sets prepared before it did)."""
    with np.load(path) as data:
        return {k[6:]: str(data[k]) for k in data.files if k.startswith("sense_")}


def list_samples(root: str | Path) -> list[tuple[Path, str]]:
    """(file, domain) pairs; the domain is the sub-folder name, or "default" for files in root."""
    root = Path(root)
    if not root.is_dir():
        return []  # the caller says what to do about it
    files = sorted(root.glob(f"*{CACHE_SUFFIX}"))
    samples = [(f, "default") for f in files if not f.name.endswith(".tmp.npz")]
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        samples += [(f, sub.name) for f in sorted(sub.glob(f"*{CACHE_SUFFIX}")) if not f.name.endswith(".tmp.npz")]
    return samples


class SenseDataset(Dataset):
    """Returns dict(image (3, H, W) in [-1, 1], maps (C, H, W) in [0, 1], presence (M,), domain ()).

    Modalities missing from a file get zeros and presence 0, so a dataset prepared with fewer
    senses than the model has slots (e.g. no depth model offline) trains those slots as "absent".
    Small sets (up to `memory_budget` bytes decoded) are decoded once into one uint8 tensor per
    field, which `to(device)` moves to the GPU: a batch is then one index op. Larger sets (CelebA-HQ,
    FFHQ) stay on disk; each batch is decoded by a pool of `decode_threads` (zlib releases the GIL)
    into pinned memory when the device is a GPU, and `training/prefetch.py` overlaps that with the
    previous step.
    """

    def __init__(self, root: str | Path, modalities: Sequence[str], domains: Sequence[str] | None = None,
                 in_memory: bool | None = None, memory_budget: int = 4 << 30, decode_threads: int = 0):  # fmt: skip
        samples = list_samples(root)
        if not samples:
            raise FileNotFoundError(f"no prepared samples (*.npz) under {root}; run training/prepare.py first")
        self.domains = list(domains) if domains else sorted({d for _, d in samples})
        self.modalities = tuple(modalities)
        self.files = [f for f, d in samples if d in self.domains]
        self.domain_ids = [self.domains.index(d) for f, d in samples if d in self.domains]
        self.domain_tensor = torch.tensor(self.domain_ids)
        self.device = torch.device("cpu")
        self._size: tuple[int, int] | None = None  # every sample's (H, W): the first one's
        first = self._decode(self.files[0])
        self._size = tuple(first[0].shape[1:])
        if in_memory is None:
            per_sample = first[0].numel() + first[1].numel()
            in_memory = per_sample * len(self.files) <= memory_budget
        self.in_memory = in_memory
        self.decode_threads = decode_threads or min(8, os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()  # the training thread and the prefetch thread both read
        if in_memory:
            decoded = [first] + [self._decode(f) for f in self.files[1:]]
            self.images = torch.stack([d[0] for d in decoded])  # (N, 3, H, W) uint8
            self.maps = torch.stack([d[1] for d in decoded])  # (N, C, H, W) uint8
            self.presence = torch.stack([d[2] for d in decoded])  # (N, M) float
        else:  # presence from the archives' member lists only: no decompression
            self.presence = torch.stack([self._presence(f) for f in self.files])

    def _presence(self, path: Path) -> torch.Tensor:
        with _opened(path) as data:
            names = {k[4:] for k in data.files if k.startswith("map_")}
        return torch.tensor([1.0 if m in names else 0.0 for m in self.modalities])

    def _decode(self, path: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        image, maps = load_sample(path)
        h, w = image.shape[:2]
        if self._size is not None and (h, w) != self._size:
            raise SampleError(f"{path} is {h}×{w} px but {self.files[0].name} is {self._size[0]}×{self._size[1]}: "
                              "prepare the whole set at one --resolution")  # fmt: skip
        parts, presence = [], []
        for name in self.modalities:
            c = MODALITIES[name].channels
            m = maps.get(name)
            if m is None or m.shape != (c, h, w):
                parts.append(torch.zeros(c, h, w, dtype=torch.uint8))
                presence.append(0.0)
            else:
                parts.append(torch.from_numpy(m))
                presence.append(1.0)
        return torch.from_numpy(image).permute(2, 0, 1).contiguous(), torch.cat(parts), torch.tensor(presence)

    def to(self, device: torch.device | str) -> SenseDataset:
        """Batches come out on `device`; an in-memory set moves there once, whole."""
        self.device = torch.device(device)
        self.presence, self.domain_tensor = self.presence.to(device), self.domain_tensor.to(device)
        if self.in_memory:
            self.images, self.maps = self.images.to(device), self.maps.to(device)
        return self

    def __len__(self) -> int:
        return len(self.files)

    def providers(self) -> dict[str, str]:
        """modality → the provider that made most of this set's maps of it (exports record it so
        the pipeline extracts the same kind of maps at inference)."""
        counts: dict[str, Counter] = {}
        for path in self.files:
            for modality, provider in sample_providers(path).items():
                counts.setdefault(modality, Counter())[provider] += 1
        return {m: c.most_common(1)[0][0] for m, c in counts.items() if m in self.modalities}

    def read(self, idx: Sequence[int] | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (images, maps) of an on-disk set, decoded on the CPU (pinned for a GPU device).
        Safe to call from a background thread: it touches no device."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.decode_threads, thread_name_prefix="decode")
        decoded = list(self._pool.map(self._decode, [self.files[int(i)] for i in idx]))
        images, maps = torch.stack([d[0] for d in decoded]), torch.stack([d[1] for d in decoded])
        if self.device.type == "cuda":
            images, maps = images.pin_memory(), maps.pin_memory()
        return images, maps

    def batch(self, idx: Sequence[int] | torch.Tensor, read: tuple[torch.Tensor, torch.Tensor] | None = None
              ) -> dict[str, torch.Tensor]:  # fmt: skip
        """A batch as float tensors on the dataset's device: image in [-1, 1], maps in [0, 1].
        `read` is `self.read(idx)` done ahead of time (see training/prefetch.py)."""
        idx = torch.as_tensor(idx, device=self.device)
        if self.in_memory:
            images, maps = self.images[idx], self.maps[idx]
        else:
            images, maps = read if read is not None else self.read(idx)
            images = images.to(self.device, non_blocking=True)
            maps = maps.to(self.device, non_blocking=True)
        return {"image": images.float() / 127.5 - 1, "maps": maps.float() / 255,
                "presence": self.presence[idx], "domain": self.domain_tensor[idx]}  # fmt: skip

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.batch([i]).items()}


def flip_channel_order(modalities: Sequence[str]) -> list[int]:
    """Channel permutation that goes with a horizontal flip: left/right parts swap (each modality's
    `flip_pairs`)."""
    order, start = [], 0
    for name in modalities:
        spec = MODALITIES[name]
        idx = list(range(start, start + spec.channels))
        for a, b in spec.flip_pairs:
            idx[a], idx[b] = idx[b], idx[a]
        order += idx
        start += spec.channels
    return order


def line_channels(modalities: Sequence[str]) -> list[int]:
    """Indices of the channels that hold thin drawn lines (pose, landmarks, edges)."""
    out, start = [], 0
    for name in modalities:
        spec = MODALITIES[name]
        if spec.lines:
            out += range(start, start + spec.channels)
        start += spec.channels
    return out


def augment(batch: dict[str, torch.Tensor], modalities: Sequence[str], generator: torch.Generator,
            max_zoom: float = 1.15, zoom_p: float = 1.0, crisp_lines: bool = False) -> dict[str, torch.Tensor]:  # fmt: skip
    """Random horizontal flip and zoom-crop, applied identically to image and maps (on device).

    `zoom_p` is the share of samples that are zoomed at all (the rest are only flipped, so they keep
    every pixel as prepared); `crisp_lines` resamples line maps (pose, landmarks, edges) with nearest
    neighbours instead of bilinear, so a 1-px line stays a line. Randomness comes from `generator`
    only, so a resumed run sees the very same augmentations.
    """
    image, maps = batch["image"], batch["maps"]
    b, _, h, w = image.shape
    flip = torch.rand(b, generator=generator) < 0.5
    zoom = 1 + torch.rand(b, generator=generator) * (max_zoom - 1)
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * (1 - 1 / zoom)[:, None]
    if zoom_p < 1:  # drawn after the rest, so zoom_p = 1 keeps the draws of earlier versions
        zoomed = torch.rand(b, generator=generator) < zoom_p
        zoom, shift = torch.where(zoomed, zoom, 1.0), shift * zoomed[:, None]
    order = torch.tensor(flip_channel_order(modalities))
    flip, zoom, shift = flip.to(image.device), zoom.to(image.device), shift.to(image.device)
    maps = torch.where(flip[:, None, None, None], maps[:, order.to(maps.device)], maps)
    theta = torch.zeros(b, 2, 3, device=image.device)
    theta[:, 0, 0] = torch.where(flip, -1.0, 1.0) / zoom
    theta[:, 1, 1] = 1 / zoom
    theta[:, :, 2] = shift
    grid = torch.nn.functional.affine_grid(theta, [b, 1, h, w], align_corners=False)
    def sample(t: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
        return torch.nn.functional.grid_sample(t, grid, mode=mode, padding_mode="reflection", align_corners=False)

    out_maps = sample(maps)
    lines = line_channels(modalities) if crisp_lines else []
    if lines:
        idx = torch.tensor(lines, device=maps.device)
        out_maps[:, idx] = sample(maps[:, idx], "nearest")
    return {**batch, "image": sample(image), "maps": out_maps}
