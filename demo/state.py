"""What every session of the demo shares: the pipeline, which senses can run here, and the limits."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sensorium.images import LoadedImage
from sensorium.lru import LRU
from sensorium.pipeline import TranslationPipeline
from sensorium.senses import Availability

from .sweeper import TRIM_EVERY, FolderSweeper

MODEL = "model"  # concurrency group of every event that runs the model (UI, API and MCP alike)
UPLOAD_CACHE_BYTES = 128 << 20
RESOLUTION_STEPS = (128, 192, 256, 320, 384, 448, 512, 640, 768, 1024)


@dataclass
class DemoState:
    """What every session shares: the pipeline, which senses run here, and the limits."""

    pipe: TranslationPipeline
    max_resolution: int
    checkpoint: str  # shown in the status line
    availability: dict[str, Availability]  # modality -> can its sense run here (and why not)
    out_dir: Path  # PNG downloads are written here (swept: files older than the cache TTL go)
    # Decoded uploads by path: at most 16, and at most 128 MB (an upload is decoded to ≤ 2048², 12.6 MB).
    images: LRU[LoadedImage] = field(default_factory=lambda: LRU(16, max_bytes=UPLOAD_CACHE_BYTES))
    time_limit: float = 0.0  # seconds a handler may run before the request gets an error; 0 = none
    # Model calls in flight, overrun ones included (a thread cannot be stopped): bounds the pile-up.
    workers: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(3))

    @classmethod
    def create(cls, pipe: TranslationPipeline, max_resolution: int | None = None, checkpoint: str | None = None,
               time_limit: float = 0.0, concurrency: int = 1, cache_ttl: float = 0.0,
               trim_every: float = TRIM_EVERY) -> DemoState:  # fmt: skip
        """Check the senses once (may take seconds: it imports their libraries) and pick limits."""
        if max_resolution is None:
            max_resolution = 512 if pipe.device.type == "cuda" else 256
        name = checkpoint or getattr(pipe, "name", None) or "model"
        out_dir = Path(tempfile.mkdtemp(prefix="sensorium-demo-"))
        FolderSweeper(out_dir, cache_ttl, trim_every=trim_every).start()  # removes the folder at exit; sweeps while cache_ttl > 0
        availability = pipe.senses.status()
        for m in pipe.config.modalities:
            if m not in pipe.trained_modalities:  # an input the model never saw would only add noise
                availability[m] = Availability(False, f"this checkpoint was not trained with {m} maps")
        return cls(pipe, int(max_resolution), str(name), availability, out_dir, time_limit=time_limit,
                   workers=threading.BoundedSemaphore(concurrency + 2))  # fmt: skip

    @property
    def modalities(self) -> tuple[str, ...]:
        """The checkpoint's modalities, in its order."""
        return tuple(self.pipe.config.modalities)

    @property
    def available(self) -> tuple[str, ...]:
        """The checkpoint's modalities whose sense can run here."""
        return tuple(m for m in self.modalities if self.availability[m].ok)

    @property
    def trained_resolution(self) -> int | None:
        """The size the checkpoint was trained at (its export metadata), when the UI can offer it."""
        r = self.pipe.model.info.resolution
        stride = self.pipe.config.stride
        return int(r) if isinstance(r, int) and self.pipe.config.min_resolution <= r <= self.max_resolution and r % stride == 0 else None

    @property
    def resolutions(self) -> list[int]:
        """Output sizes (long side) offered in the UI: multiples of the model stride up to the limit,
        and the checkpoint's training size."""
        stride = self.pipe.config.stride
        low = self.pipe.config.min_resolution
        steps = {r for r in RESOLUTION_STEPS if low <= r <= self.max_resolution and r % stride == 0}
        if self.trained_resolution:
            steps.add(self.trained_resolution)
        return sorted(steps) or [max(low, self.max_resolution // stride * stride)]

    @property
    def default_resolution(self) -> int:
        """The training size when known (a model looks best at the scale it learnt), else ≤ 256."""
        if self.trained_resolution:
            return self.trained_resolution
        return max(r for r in self.resolutions if r <= 256) if min(self.resolutions) <= 256 else self.resolutions[0]
