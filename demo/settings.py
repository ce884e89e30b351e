"""Demo settings: CLI flags beat environment variables beat defaults; plus the one pipeline load.

SENSORIUM_CHECKPOINT       folder or Hub id (default: the bundled assets/checkpoints/sensorium-portraits)
SENSORIUM_HOST / _PORT     bind address (127.0.0.1, or 0.0.0.0 on a Space, i.e. when SPACE_ID is set) / port
SENSORIUM_SHARE            1 = public gradio.live link
SENSORIUM_DEVICE           auto (default), cpu, cuda, cuda:1 …
SENSORIUM_RUNTIME          auto (default: the fastest runtime that passes its check at load), eager, fused, fused-cl, onnx
SENSORIUM_MAX_RESOLUTION   largest output side offered (default 512 on a GPU, 256 on CPU)
SENSORIUM_CONCURRENCY      requests run at once (default 1: one model, one device)
SENSORIUM_MAX_FILE_SIZE    upload limit (default 20mb)
SENSORIUM_TIME_LIMIT       seconds a request may run before it is answered with an error (default 120; 0 = none)
SENSORIUM_CACHE_TTL        seconds an upload, result or download file is kept on disk (default 3600; 0 = forever)
SENSORIUM_TRIM_EVERY       seconds between returns of freed memory to the system (default 60; 0 = never)
SENSORIUM_MALLOC_ARENAS    malloc arenas the server's threads share (default 2; 0 = the allocator's own setting,
                           glibc's 8 per core or $MALLOC_ARENA_MAX, which is the default where that is set)
SENSORIUM_MCP              1 = also serve translate, extract, random_styles and info as MCP tools (/gradio_api/mcp/)
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sensorium.bundled import demo_checkpoint
from sensorium.env import truthy
from sensorium.runtime import RUNTIMES

from .sweeper import TRIM_EVERY

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINT = demo_checkpoint()
EXAMPLES_DIR = ROOT / "assets" / "examples"
# The server's malloc arena cap (sensorium/runtime/allocator.py): one per core of a free Space, where
# requests run one at a time. In the suite's soak the cap kept RSS flat between the halves where
# glibc's 16 arenas let it grow (docs/reliability.md).
SERVER_ARENAS = 2


@dataclass(frozen=True)
class Settings:
    checkpoint: str = str(DEFAULT_CHECKPOINT)  # local folder (config.json + model.safetensors) or Hub id
    host: str = "127.0.0.1"  # 0.0.0.0 to listen on every interface
    port: int = 7860
    share: bool = False  # gradio.live tunnel
    device: str = "auto"  # "auto": CUDA when available, else CPU
    runtime: str = "auto"  # content encoder + generator runtime (sensorium/runtime); "eager" = the reference
    max_resolution: int | None = None  # None: 512 on a GPU, 256 on CPU
    concurrency: int = 1  # model calls running at once
    max_queue: int = 32  # waiting requests before new ones are refused
    max_file_size: str = "20mb"  # per upload
    threads: int | None = None  # torch intra-op CPU threads; None: torch's default
    time_limit: float = 120.0  # seconds per request, then an error frees its queue slot; 0 = no limit
    cache_ttl: float = 3600.0  # seconds uploads, results and downloads stay on disk; 0 = kept forever
    trim_every: float = TRIM_EVERY  # seconds between returns of freed memory to the system (demo/sweeper.py); 0 = never
    malloc_arenas: int = SERVER_ARENAS  # malloc arenas the threads share; 0 = the allocator's own setting
    mcp: bool = False  # also an MCP server (streamable HTTP at /gradio_api/mcp/)

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1..65535, got {self.port}")
        if self.max_resolution is not None and self.max_resolution < 64:
            raise ValueError(f"max_resolution must be at least 64, got {self.max_resolution}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if not 0 <= self.time_limit < float("inf"):
            raise ValueError(f"time_limit must be a number of seconds >= 0, got {self.time_limit}")
        if not 0 <= self.cache_ttl < float("inf"):
            raise ValueError(f"cache_ttl must be a number of seconds >= 0, got {self.cache_ttl}")
        if not 0 <= self.trim_every < float("inf"):
            raise ValueError(f"trim_every must be a number of seconds >= 0, got {self.trim_every}")
        if self.malloc_arenas < 0:
            raise ValueError(f"malloc_arenas must be 0 (the allocator's own setting) or more, got {self.malloc_arenas}")
        try:  # a typo stops here with the usage line, not with a traceback from gradio's launch
            file_size_bytes(self.max_file_size)
        except (ValueError, AttributeError):
            raise ValueError(f"max_file_size must be a size like 20mb, got {self.max_file_size!r}") from None


def file_size_bytes(size: str | int) -> int:
    """'20mb' -> bytes (gradio's units: b, kb, mb, gb, decimal-free, 1 kb = 1024 b)."""
    if isinstance(size, int):
        return size
    text = size.replace(" ", "").lower()
    digits = len(text) - len(text.lstrip("0123456789"))
    unit = {"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}.get(text[digits:])
    if not digits or unit is None:
        raise ValueError(f"not a file size like 20mb: {size!r}")
    return int(text[:digits]) * unit


def parse_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from command-line flags, then SENSORIUM_* environment variables, then defaults."""
    env = os.environ if environ is None else environ
    on_space = bool(env.get("SPACE_ID"))
    p = argparse.ArgumentParser(prog="app.py", description="Sensorium image-translation demo (Gradio).")
    p.add_argument(
        "--checkpoint",
        default=env.get("SENSORIUM_CHECKPOINT") or Settings.checkpoint,
        help="checkpoint folder or Hugging Face Hub id (env SENSORIUM_CHECKPOINT)",
    )
    p.add_argument(
        "--host",
        default=env.get("SENSORIUM_HOST") or ("0.0.0.0" if on_space else Settings.host),
        help="address to bind; 127.0.0.1 by default, 0.0.0.0 on a Space (env SENSORIUM_HOST)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=env.get("SENSORIUM_PORT") or env.get("GRADIO_SERVER_PORT") or "7860",
        help="port (env SENSORIUM_PORT)",
    )
    p.add_argument(
        "--share",
        action="store_true",
        default=truthy(env.get("SENSORIUM_SHARE")),
        help="create a public gradio.live link (env SENSORIUM_SHARE=1)",
    )
    p.add_argument(
        "--device", default=env.get("SENSORIUM_DEVICE") or "auto", help="auto, cpu, cuda (env SENSORIUM_DEVICE)"
    )
    p.add_argument("--runtime", default=(env.get("SENSORIUM_RUNTIME") or "auto").lower(), choices=RUNTIMES,
                   help="content encoder + generator runtime (env SENSORIUM_RUNTIME)")  # fmt: skip
    p.add_argument(
        "--max-resolution",
        type=int,
        default=env.get("SENSORIUM_MAX_RESOLUTION") or None,
        help="largest output side offered (env SENSORIUM_MAX_RESOLUTION; default 512 GPU / 256 CPU)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=env.get("SENSORIUM_CONCURRENCY") or "1",
        help="model calls running at once (env SENSORIUM_CONCURRENCY)",
    )
    p.add_argument("--threads", type=int, default=env.get("SENSORIUM_THREADS") or None,
                   help="torch CPU threads (env SENSORIUM_THREADS)")  # fmt: skip
    p.add_argument("--max-file-size", default=env.get("SENSORIUM_MAX_FILE_SIZE") or Settings.max_file_size,
                   help="upload size limit, e.g. 20mb (env SENSORIUM_MAX_FILE_SIZE)")  # fmt: skip
    p.add_argument("--time-limit", type=float, default=env.get("SENSORIUM_TIME_LIMIT") or str(Settings.time_limit),
                   help="seconds a request may run, 0 = no limit (env SENSORIUM_TIME_LIMIT)")  # fmt: skip
    p.add_argument("--cache-ttl", type=float, default=env.get("SENSORIUM_CACHE_TTL") or str(Settings.cache_ttl),
                   help="seconds files stay in the upload/result caches, 0 = forever (env SENSORIUM_CACHE_TTL)")  # fmt: skip
    p.add_argument("--trim-every", type=float, default=env.get("SENSORIUM_TRIM_EVERY") or str(Settings.trim_every),
                   help="seconds between returns of freed memory to the system, 0 = never (env SENSORIUM_TRIM_EVERY)")  # fmt: skip
    arenas = env.get("SENSORIUM_MALLOC_ARENAS") or ("0" if env.get("MALLOC_ARENA_MAX") else str(Settings.malloc_arenas))
    p.add_argument("--malloc-arenas", type=int, default=arenas,
                   help="malloc arenas the threads share, 0 = the allocator's own setting (env SENSORIUM_MALLOC_ARENAS)")  # fmt: skip
    p.add_argument("--mcp", action="store_true", default=truthy(env.get("SENSORIUM_MCP")),
                   help="serve the API as MCP tools at /gradio_api/mcp/ (env SENSORIUM_MCP=1)")  # fmt: skip
    args = p.parse_args(argv)  # string defaults (from env) go through `type` too: bad values exit cleanly
    try:
        return Settings(checkpoint=args.checkpoint, host=args.host, port=args.port, share=args.share,
                        device=args.device, runtime=args.runtime, max_resolution=args.max_resolution, concurrency=args.concurrency,
                        max_file_size=args.max_file_size, threads=args.threads, time_limit=args.time_limit,
                        cache_ttl=args.cache_ttl, trim_every=args.trim_every, malloc_arenas=args.malloc_arenas,
                        mcp=args.mcp)  # fmt: skip
    except ValueError as err:
        p.error(str(err))  # exits with the usage line, no traceback
        raise  # unreachable; for type checkers


def max_resolution_for(device_type: str, setting: int | None) -> int:
    """The largest output side to offer: the setting, else 512 on a GPU and 256 on CPU."""
    return setting if setting is not None else (512 if device_type == "cuda" else 256)


class StartupError(RuntimeError):
    """The demo cannot start (no or bad checkpoint); the message is for the person at the terminal."""


@cache  # one pipeline per process, shared by every session
def load_pipeline(checkpoint: str, device: str = "auto", runtime: str = "auto"):
    """The TranslationPipeline for `checkpoint`; raises StartupError with a clear message."""
    from sensorium.model import CheckpointError
    from sensorium.pipeline import TranslationPipeline

    try:
        return TranslationPipeline.from_pretrained(checkpoint, device=None if device == "auto" else device,
                                                   runtime=runtime)  # fmt: skip
    except CheckpointError as err:
        hint = ""
        if Path(checkpoint).resolve() == DEFAULT_CHECKPOINT and not DEFAULT_CHECKPOINT.exists():
            hint = (f"\nThe bundled demo checkpoint is not in {DEFAULT_CHECKPOINT} yet. Train/export one there, "
                    "or pass --checkpoint PATH_OR_HUB_ID (or set SENSORIUM_CHECKPOINT).")  # fmt: skip
        raise StartupError(f"Could not load the checkpoint: {err}{hint}") from err
    except (OSError, RuntimeError, ValueError) as err:
        raise StartupError(f"Could not load the checkpoint {checkpoint!r}: {type(err).__name__}: {err}") from err
