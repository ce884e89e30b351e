"""A set of senses for a model's modalities: resolve a provider per modality once, run any subset
on an image, and cache the maps by image content so nothing is extracted twice.

Failures never raise: a modality that cannot run (missing weights, crash) yields no map but a note
saying why, and the other modalities still come back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from PIL import Image

from ..modalities import DEFAULT_MODALITIES
from .base import Availability, Sense, SenseMap, SenseUnavailable
from .edges import CannyEdges
from .map_cache import MapCache, image_hash
from .registry import SenseChoice, providers_of, resolve, same_maps
from .settings import SenseSettings

__all__ = ["Extraction", "SenseSet", "image_hash"]

Size = int | tuple[int, int] | None


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One pool for every SenseSet and session: a Space's concurrent requests share its threads
    instead of each starting eight."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1) + 2, thread_name_prefix="sense")
        return _POOL


class Extraction(dict):
    """modality -> SenseMap for the modalities that produced a map, plus:

    notes: modality -> human message (unavailable, failed, or ran but found nothing).
    seconds: modality -> wall time spent (about 0 for cache hits).
    """

    def __init__(self) -> None:
        super().__init__()
        self.notes: dict[str, str] = {}
        self.seconds: dict[str, float] = {}


def as_size(size: Size, image: Image.Image) -> tuple[int, int]:
    """None -> the image's (H, W); int s -> (s, s); (H, W) as given."""
    if size is None:
        return image.height, image.width
    if isinstance(size, int):
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        return size, size
    h, w = (int(v) for v in size)
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {size}")
    return h, w


class SenseSet:
    """The senses filling `modalities` on `device`.

    overrides: modality -> SenseChoice(provider, model) or a plain model string (hub id / dir).
    preferred: modality -> provider name tried first (a checkpoint's `metadata.senses`).
    cache: shared MapCache (pass the same one to several SenseSets to share maps).
    parallel: run a new image's senses side by side (one process-wide thread pool).
    Providers are resolved lazily on first use; models load lazily, once per process.
    """

    def __init__(
        self,
        modalities: Sequence[str] | None = None,
        device: str | torch.device = "cpu",
        overrides: Mapping[str, SenseChoice | str] | None = None,
        cache: MapCache | None = None,
        preferred: Mapping[str, str] | None = None,
        parallel: bool = True,
    ) -> None:
        self.modalities = tuple(DEFAULT_MODALITIES if modalities is None else modalities)  # () is no sense at all
        for m in self.modalities:
            providers_of(m)  # unknown names fail here, loudly, not at the first image
        self.device = torch.device(device)
        self.overrides = {m: SenseChoice(model=c) if isinstance(c, str) else c for m, c in (overrides or {}).items()}
        self.preferred = dict(preferred or {})
        self.parallel = parallel
        self.cache = cache if cache is not None else MapCache()
        self._lock = threading.Lock()
        self._resolved: dict[str, tuple[Sense | None, str]] = {}
        self._failed: dict[str, str] = {}

    # -- resolution -----------------------------------------------------------------------
    def _resolve(self, modality: str) -> tuple[Sense | None, str]:
        with self._lock:
            if modality in self._resolved:
                return self._resolved[modality]
        sense, reasons = resolve(modality, self.overrides.get(modality), self.preferred.get(modality), self.device)
        if sense is None:
            entry = (None, " | ".join(reasons) or f"no sense for {modality!r}")
        else:
            sense.device = self.device
            skipped = f"using {sense.label}; skipped: " + " | ".join(reasons) if reasons else ""
            trained = self.preferred.get(modality)
            if trained and not same_maps(sense.name, trained) and reasons:  # skipped, not overridden by a pin
                skipped = f"the checkpoint was trained on {trained} maps, which cannot run here; {skipped}"
            entry = (sense, skipped)
        with self._lock:
            return self._resolved.setdefault(modality, entry)

    def sense(self, modality: str) -> Sense | None:
        """The sense resolved for `modality` (None if none can run)."""
        return self._resolve(modality)[0]

    def status(self) -> dict[str, Availability]:
        """modality -> Availability; the reason names missing models (or skipped providers)."""
        out = {}
        for m in self.modalities:
            sense, why = self._resolve(m)
            failed = self._failed.get(m)
            out[m] = Availability(sense is not None and not failed, failed or why)
        return out

    # -- extraction -----------------------------------------------------------------------
    def _key(self, digest: str, size: tuple[int, int], sense: Sense) -> tuple:
        return (digest, size, sense.name, getattr(sense, "model", None), getattr(sense, "settings", ()))

    def configured(self, modality: str, settings: SenseSettings | None) -> tuple[Sense | None, str]:
        """The sense that runs `modality` under `settings` (edges: Canny thresholds, HED or Canny),
        and a note when a wish could not be met (HED without weights falls back, saying so)."""
        sense, note = self._resolve(modality)
        if modality != "edges" or settings is None:
            return sense, note
        wanted = settings.edges_provider
        if wanted and (sense is None or sense.name != wanted):
            key = f"{modality}:{wanted}"
            with self._lock:
                cached = self._resolved.get(key)
            if cached is None:
                other, reasons = resolve(modality, SenseChoice(provider=wanted, model=self.overrides.get(modality,
                                         SenseChoice()).model))  # fmt: skip
                if other is not None:
                    other.device = self.device
                cached = (other, " | ".join(reasons))
                with self._lock:
                    cached = self._resolved.setdefault(key, cached)
            if cached[0] is not None:
                sense, note = cached
            else:
                note = f"{wanted} cannot run here ({cached[1]}); used {getattr(sense, 'label', 'none')}"
        if isinstance(sense, CannyEdges) and (settings.canny_low, settings.canny_high) != (sense.low, sense.high):
            sense = CannyEdges(settings.canny_low, settings.canny_high)
        return sense, note

    def _run(self, sense: Sense, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        sense.load(self.device)
        return sense(image, size)

    def _usable(self, modality: str, notes: dict[str, str], settings: SenseSettings | None = None) -> Sense | None:
        sense, why = self.configured(modality, settings)
        with self._lock:  # a failure is the default sense's: a sense the settings pick still runs
            failed = self._failed.get(modality) if self._resolved.get(modality, (None, ""))[0] is sense else None
        if sense is None or failed:
            notes[modality] = failed or why
            return None
        wanted = settings.edges_provider if settings is not None and modality == "edges" else None
        if wanted and sense.name != wanted:
            notes[modality] = why  # e.g. HED asked for, its weights missing: say which sense ran instead
        return sense

    def _record_failure(self, modality: str, sense: Sense, exc: Exception) -> str:
        msg = str(exc) if isinstance(exc, SenseUnavailable) else (
            f"{sense.label} failed: {type(exc).__name__}: {exc}"
        )  # fmt: skip
        if isinstance(exc, SenseUnavailable):
            with self._lock:
                if self._resolved.get(modality, (None, ""))[0] is sense:  # a settings' sense (HED) spares the default
                    self._failed[modality] = msg  # do not retry a failed load on every request
        return msg

    def extract(self, image: Image.Image, size: Size = None, modalities: Sequence[str] | None = None,
                cache: bool = True, settings: SenseSettings | None = None) -> Extraction:  # fmt: skip
        """Maps of `image` at `size` (H, W) for `modalities` (default: all of this set).

        Returns an Extraction (dict modality -> SenseMap, with .notes and .seconds). Cached by
        (image content, size, sense and its settings): a repeated image never reaches the model, and
        new edge `settings` re-run only the edges sense. `cache=False` for frames that never repeat
        (a live webcam), so they do not push useful maps out of the cache.
        """
        return self.extract_batch([image], size, modalities, cache, settings)[0]

    def extract_batch(self, images: Sequence[Image.Image], size: Size = None, modalities: Sequence[str] | None = None,
                      cache: bool = True, settings: SenseSettings | None = None) -> list[Extraction]:  # fmt: skip
        """`extract` for several images at once, in order: a `batched` sense (a torch port) gets each
        group of equally sized images as one batch, the others run image by image as `extract`
        runs them. The maps equal `extract`'s; `.seconds` of a batched sense is its batch's wall time
        shared equally among the batch's images.
        """
        sizes = [as_size(size, image) for image in images]
        digests = [image_hash(image) for image in images]
        outs = [Extraction() for _ in images]
        notes: dict[str, str] = {}
        todo: list[tuple[str, Sense]] = []
        for m in self.modalities if modalities is None else modalities:  # [] asks for no map at all
            if m not in self.modalities:
                raise KeyError(f"{m!r} is not in this SenseSet: {self.modalities}")
            sense = self._usable(m, notes, settings)
            if sense is not None:
                todo.append((m, sense))
        for out in outs:
            out.notes.update(notes)
        tasks: list[tuple[str, Sense, list[int]]] = []  # (modality, sense, the images it runs on in one call)
        for m, sense in todo:
            if sense.batched and len(images) > 1:
                groups: dict[tuple, list[int]] = {}
                for i, image in enumerate(images):
                    groups.setdefault((image.size, sizes[i]), []).append(i)
                tasks += [(m, sense, indices) for indices in groups.values()]
            else:
                tasks += [(m, sense, [i]) for i in range(len(images))]

        def one(task: tuple[str, Sense, list[int]]) -> tuple[list[SenseMap] | Exception, float]:
            _, sense, indices = task
            start = time.perf_counter()
            try:
                return self._compute(sense, [images[i] for i in indices], [digests[i] for i in indices],
                                     sizes[indices[0]], cache), time.perf_counter() - start  # fmt: skip
            except Exception as exc:  # a sense must never take the request down
                return exc, time.perf_counter() - start

        # Senses are independent: run them side by side. The mediapipe graphs and torch release the
        # GIL, so CPU senses overlap each other and the GPU's; shared models and the face mesh have
        # their own locks. Results are the same as one after another (a test checks).
        pool = _pool() if self.parallel and len(tasks) > 1 else None
        results = list(pool.map(one, tasks)) if pool else [one(task) for task in tasks]
        for (m, sense, indices), (result, seconds) in zip(tasks, results, strict=True):
            message = self._record_failure(m, sense, result) if isinstance(result, Exception) else ""
            for k, i in enumerate(indices):
                out = outs[i]
                out.seconds[m] = seconds / len(indices)
                if message:
                    out.notes[m] = message
                    continue
                out[m] = result[k]  # type: ignore[index]
                if result[k].note:  # type: ignore[index]
                    out.notes[m] = result[k].note  # type: ignore[index]
        return outs

    def _compute(self, sense: Sense, images: list[Image.Image], digests: list[str], size: tuple[int, int],
                 cache: bool) -> list[SenseMap]:  # fmt: skip
        """`sense`'s maps of `images` (one call for several), through the map cache when `cache`."""
        if len(images) == 1:  # get_or_compute: concurrent requests for one image share one run
            compute = lambda: self._run(sense, images[0], size)  # noqa: E731
            return [self.cache.get_or_compute(self._key(digests[0], size, sense), compute) if cache else compute()]
        keys = [self._key(d, size, sense) for d in digests]
        found = [self.cache.get(k) if cache else None for k in keys]
        missing = [i for i, m in enumerate(found) if m is None]
        if missing:
            sense.load(self.device)
            for i, computed in zip(missing, sense.extract_batch([images[i] for i in missing], size), strict=True):
                found[i] = computed
                if cache:
                    self.cache.put(keys[i], computed)
        return found  # type: ignore[return-value]
