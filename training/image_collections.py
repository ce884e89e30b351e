"""Where `training/prepare.py` reads photos from: a folder tree, or a Hugging Face `datasets` image
dataset (a hub id such as CelebA-HQ or FFHQ mirrors, a directory written by `save_to_disk`, or any
local folder `load_dataset` understands).

A source lists items cheaply (key, domain, reference) in the main process; each spawned worker
re-opens the source once and reads the bytes of the items it is given. Keys are stable across runs
(file stem, or `<split>-<row>`), which is what makes prepare.py resumable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sensorium.images import IMAGE_SUFFIXES


@dataclass(frozen=True)
class ImageItem:
    key: str  # output file stem
    domain: str  # "" = no domain (the set's root)
    ref: str | int  # a file path, or a dataset row
    label: str  # how reports name it


class ImageCollection(Protocol):
    def items(self) -> list[ImageItem]: ...

    def read(self, ref: str | int) -> str | bytes:
        """Something `sensorium.images.load_image` accepts."""


@dataclass(frozen=True)
class FolderCollection:
    """Image files under `root`; files in sub-folders take the first folder's name as domain."""

    root: Path

    def items(self) -> list[ImageItem]:
        found = []
        for p in sorted(Path(self.root).rglob("*")):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                rel = p.relative_to(self.root)
                domain = rel.parts[0] if len(rel.parts) > 1 else ""
                found.append(ImageItem(p.stem, domain, str(p), str(p)))
        return found

    def read(self, ref: str | int) -> str | bytes:
        return str(ref)


def _safe_name(value: object) -> str:
    """A domain value as a folder name ("Blond Hair/1" → "Blond_Hair_1")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(value)).strip("._") or "unnamed"


@dataclass(frozen=True)
class HFDatasetCollection:
    """One split of a `datasets` image dataset. `image_column` defaults to the first Image feature;
    `domain_column` (a ClassLabel, string or integer column) splits the rows into domains."""

    name: str
    split: str = "train"
    config: str | None = None
    image_column: str | None = None
    domain_column: str | None = None

    def open(self):
        """The split with images left undecoded: corrupt rows are reported, not fatal."""
        try:
            import datasets
        except ImportError as exc:
            raise SystemExit("--dataset needs the `datasets` package: pip install -r requirements-train.txt") from exc
        if (Path(self.name) / "dataset_info.json").is_file() or (Path(self.name) / "dataset_dict.json").is_file():
            ds = datasets.load_from_disk(self.name)  # a save_to_disk directory
            if isinstance(ds, datasets.DatasetDict):
                if self.split not in ds:
                    raise SystemExit(f"{self.name} has splits {sorted(ds)}, not {self.split!r} (use --split)")
                ds = ds[self.split]
        else:  # a hub id (downloaded once into the HF cache) or a local folder load_dataset knows
            ds = datasets.load_dataset(self.name, self.config, split=self.split)
        column = self.image_column or next(
            (c for c, f in ds.features.items() if isinstance(f, datasets.Image)), None
        )
        if column is None or column not in ds.features:
            raise SystemExit(f"{self.name}: no image column {column!r}; columns are {sorted(ds.features)}")
        if self.domain_column and self.domain_column not in ds.features:
            raise SystemExit(f"{self.name}: no column {self.domain_column!r}; columns are {sorted(ds.features)}")
        return ds.cast_column(column, datasets.Image(decode=False)), column

    def items(self) -> list[ImageItem]:
        ds, _ = self.open()
        domains = [""] * len(ds)
        if self.domain_column:
            feature = ds.features[self.domain_column]
            values = ds[self.domain_column]
            names = getattr(feature, "int2str", None)
            domains = [_safe_name(names(v) if names else v) for v in values]
        return [ImageItem(f"{self.split}-{i:07d}", d, i, f"{self.name}[{self.split}][{i}]") for i, d in enumerate(domains)]

    def read(self, ref: str | int) -> str | bytes:
        ds, column = _opened(self)
        cell = ds[int(ref)][column]
        if cell.get("bytes"):
            return cell["bytes"]
        if cell.get("path"):
            return cell["path"]
        raise ValueError("the dataset row holds no image")


_open_cache: dict[HFDatasetCollection, tuple] = {}


def _opened(source: HFDatasetCollection) -> tuple:
    """Each worker process opens a dataset once (memory-mapped Arrow: cheap, shared by the OS)."""
    if source not in _open_cache:
        _open_cache[source] = source.open()
    return _open_cache[source]
