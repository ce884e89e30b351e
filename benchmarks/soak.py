"""Soak test: the real app (`python app.py`) under many requests, watched for disk and memory growth.

    python -m benchmarks.soak --requests 2000 --clients 4 --ttl 20 --out runs/soak
    python -m benchmarks.soak --checkpoint tiny --requests 300 --max-megapixels 1   # what the suite runs

N gradio_client clients (threads) send /translate requests back to back over loopback, each with
a content upload of its own (an example photo resized to a mixed size up to `max_megapixels`, with
a unique stamp so no two uploads are alike), a rotating style, modalities, strengths and output
size; each result is downloaded, as a client would, and then deleted on the client side. The
server runs in its own process with a private gradio cache (GRADIO_TEMP_DIR) and temp folder
(TMPDIR, home of the app's download folder), so a sampler thread can read exactly its resident
memory (/proc/PID/status, Linux) and both folders' size once a second. After the warm-up (the
first `warmup` of the run, which must cover the TTL plus one sweep, when the folders fill to their
steady state), the report says how far each grew; `flat` checks them against the bounds below.

`--diagnose` runs the server under benchmarks/soak_probe.py, which records what grows inside it
(the Python heap with `--trace-frames N`, objects by type, our caches and gradio's state, glibc's
heap in use and free) and, after the run, what `malloc_trim(0)` hands back: a leak from allocator
retention. `python -m benchmarks.soak_probe --summarise OUT` prints those figures' trends.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from demo.sweeper import TRIM_EVERY

from .bench_app import export_graphs, free_port, wait_until_answering
from .soak_probe import rss_mb

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assets" / "examples"
MEGAPIXELS = (0.3, 1.0, 3.0, 6.0, 12.0)  # upload sizes, cycled (capped by --max-megapixels)


@dataclass(frozen=True)
class SoakConfig:
    requests: int = 2000
    clients: int = 4
    ttl: float = 20.0  # SENSORIUM_CACHE_TTL of the server, seconds
    max_megapixels: float = 12.0
    resolutions: tuple[int, ...] = (128, 192, 256)
    checkpoint: str = ""  # "" = the bundled demo checkpoint; "tiny" = a tiny random model (tests)
    warmup: float = 0.25  # fraction of the requests before growth is measured
    threads: int = 1  # torch threads of the server
    sample_every: float = 1.0  # seconds between samples
    seed: int = 0
    diagnose: bool = False  # run the server under benchmarks/soak_probe.py (what grows, what malloc_trim returns)
    trace_frames: int = 0  # with diagnose: tracemalloc frames per allocation (0: no tracing, it slows the server)
    probe_trim: float = 0.0  # with diagnose: malloc_trim(0) in the server every this many seconds (0: never)
    malloc_arenas: int | None = None  # the server's --malloc-arenas (None: the app's default; 0: the allocator's own)
    trim_every: float = TRIM_EVERY  # --trim-every of the server: seconds between returns of freed memory


@dataclass
class Sample:
    t: float  # seconds since the first request
    done: int  # requests finished
    rss_mb: float  # server resident memory
    cache_mb: float  # gradio's cache folder (uploads, results)
    downloads_mb: float  # the app's download folder(s)


@dataclass
class SoakReport:
    config: dict
    device: str
    requests: int = 0
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)
    seconds: float = 0.0
    startup_seconds: float = 0.0
    upload_mb_total: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    diagnosis: dict = field(default_factory=dict)  # the probe's final report (--diagnose)

    def after_warmup(self) -> list[Sample]:
        start = int(self.config["warmup"] * self.requests)
        return [s for s in self.samples if s.done >= start]

    def summary(self) -> dict:
        after = self.after_warmup()
        half = len(after) // 2
        first, second = after[:half] or after, after[half:] or after

        def stats(key: str) -> dict:
            values = [getattr(s, key) for s in after]
            done = np.array([s.done for s in after], dtype=float)
            slope = float(np.polyfit(done, values, 1)[0] * 1000) if len(after) > 2 and np.ptp(done) > 0 else 0.0
            return {"at_warmup_end": round(values[0], 1), "min": round(min(values), 1), "max": round(max(values), 1),
                    "last": round(values[-1], 1), "max_first_half": round(max(getattr(s, key) for s in first), 1),
                    "max_second_half": round(max(getattr(s, key) for s in second), 1),
                    "slope_per_1000_requests": round(slope, 1)}  # fmt: skip

        overall = [s.rss_mb for s in self.samples]
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 1),
            "requests_per_second": round(self.requests / self.seconds, 2) if self.seconds else 0.0,
            "startup_seconds": round(self.startup_seconds, 1),
            "upload_mb_total": round(self.upload_mb_total, 1),
            "rss_mb": {**stats("rss_mb"), "max_overall": round(max(overall), 1) if overall else 0.0},
            "cache_mb": stats("cache_mb"),
            "downloads_mb": stats("downloads_mb"),
            "device": self.device,
        }


def flat(summary: dict, rss_growth_mb: float, cache_bound_mb: float) -> list[str]:
    """What broke the soak's bounds (empty: none): no errors; after warm-up the server's RSS grows
    less than `rss_growth_mb` from its first to its second half and the cache folders stay under
    `cache_bound_mb` in all, with no second half above the first by more than half the bound."""
    problems = []
    if summary["errors"]:
        problems.append(f"{summary['errors']} requests failed")
    rss = summary["rss_mb"]
    if rss["max_second_half"] - rss["max_first_half"] > rss_growth_mb:
        problems.append(f"RSS grew {rss['max_second_half'] - rss['max_first_half']:.0f} MB after warm-up")
    for key in ("cache_mb", "downloads_mb"):
        s = summary[key]
        if s["max"] > cache_bound_mb:
            problems.append(f"{key} reached {s['max']:.0f} MB (bound {cache_bound_mb:g})")
        if s["max_second_half"] - s["max_first_half"] > cache_bound_mb / 2:
            problems.append(f"{key} kept growing ({s['max_first_half']:.0f} → {s['max_second_half']:.0f} MB)")
    return problems


# -- the server -----------------------------------------------------------------------------------
def tiny_checkpoint(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.app_fixtures import tiny_model

    tiny_model().save_pretrained(folder)
    return folder


def start_server(cfg: SoakConfig, work: Path) -> tuple[subprocess.Popen, str, Path, Path, float]:
    """`python app.py` on a free loopback port, with its own gradio cache and temp folder; also the
    monotonic time it was launched at."""
    checkpoint = str(tiny_checkpoint(work / "ckpt")) if cfg.checkpoint == "tiny" else cfg.checkpoint
    cache, tmp = work / "gradio", work / "tmp"
    cache.mkdir(parents=True)
    tmp.mkdir()
    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(cache), "TMPDIR": str(tmp), "SENSORIUM_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": str(cfg.threads),
           "SENSORIUM_CACHE_DIR": str(work / "graphs")}  # fmt: skip
    # Exported by the server itself (as on a new Space), the switch to its graphs could fall after the
    # warm-up under four clients and read as growth.
    export_graphs(checkpoint or None, env)
    probe = ["-m", "benchmarks.soak_probe", str(work / "probe")] if cfg.diagnose else []
    if cfg.diagnose:
        env |= {"SENSORIUM_PROBE_TRACE": str(cfg.trace_frames), "SENSORIUM_PROBE_TRIM": str(cfg.probe_trim)}
    args = [sys.executable, *probe, "app.py", "--port", str(port), "--cache-ttl", str(cfg.ttl), "--threads", str(cfg.threads), "--trim-every", str(cfg.trim_every),
            "--max-resolution", str(max(cfg.resolutions))] + (["--checkpoint", checkpoint] if checkpoint else []) \
        + ([] if cfg.malloc_arenas is None else ["--malloc-arenas", str(cfg.malloc_arenas)])  # fmt: skip
    log = open(work / "server.log", "wb")  # noqa: SIM115 (lives as long as the server)
    launched = time.monotonic()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}/", cache, tmp, launched


def folder_mb(folder: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # swept while we looked
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total / 2**20


# -- the clients ----------------------------------------------------------------------------------
_BASES: dict[tuple[int, float], Image.Image] = {}
_BASES_LOCK = threading.Lock()


def resized(photos: Sequence[Image.Image], which: int, megapixels: float) -> Image.Image:
    """Example photo `which` at `megapixels` (made once, shared by the clients: resizing to 12 MP
    costs more than the stamp and the JPEG encode that make each upload unique)."""
    key = (which, megapixels)
    with _BASES_LOCK:
        if key not in _BASES:
            base = photos[which]
            scale = (megapixels * 1e6 / (base.width * base.height)) ** 0.5
            size = (max(16, round(base.width * scale)), max(16, round(base.height * scale)))
            _BASES[key] = base.resize(size, Image.Resampling.BILINEAR)
        return _BASES[key]


def make_upload(index: int, megapixels: float, path: Path, photos: Sequence[Image.Image]) -> int:
    """An example photo at `megapixels`, stamped with `index` (so every upload differs); bytes written."""
    image = resized(photos, index % len(photos), megapixels).copy()
    draw = ImageDraw.Draw(image)
    cell = max(4, image.width // 64)
    for bit in range(20):  # the index as a row of black/white squares
        colour = (255, 255, 255) if index >> bit & 1 else (0, 0, 0)
        draw.rectangle((bit * cell, 0, (bit + 1) * cell - 1, cell - 1), fill=colour)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=88)
    path.write_bytes(buf.getvalue())
    return len(buf.getvalue())


def client_loop(url: str, cfg: SoakConfig, counter: dict, lock: threading.Lock, report: SoakReport,
                modalities: Sequence[str], client_dir: Path) -> None:  # fmt: skip
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=str(client_dir))
    photos = [Image.open(p).convert("RGB") for p in sorted(EXAMPLES.glob("content_*.jpg"))]
    styles = sorted(EXAMPLES.glob("style_*.jpg"))
    sizes = [mp for mp in MEGAPIXELS if mp <= cfg.max_megapixels] or [cfg.max_megapixels]
    while True:
        counter["go"].wait()  # cleared while the probe takes its baseline (--diagnose)
        with lock:
            index = counter["next"]
            if index >= cfg.requests:
                return
            counter["next"] += 1
        rng = random.Random(cfg.seed * 1_000_003 + index)
        upload = client_dir / f"upload-{index}.jpg"
        size = make_upload(index, sizes[index % len(sizes)], upload, photos)
        use = rng.sample(list(modalities), rng.randint(1, len(modalities)))
        strengths = {m: round(rng.uniform(0.3, 1.5), 2) for m in use if rng.random() < 0.5}
        try:
            image, maps, _ = client.predict(handle_file(upload), handle_file(styles[index % len(styles)]), use,
                                            strengths, rng.choice(cfg.resolutions), api_name="/translate")  # fmt: skip
            if not Path(image).is_file() or not maps:
                raise RuntimeError(f"request {index}: no result image or maps")
        except Exception as err:  # noqa: BLE001 (every failure counts, with its message)
            with lock:
                report.errors += 1
                report.error_messages.append(f"#{index}: {type(err).__name__}: {str(err)[:300]}")
        finally:
            upload.unlink(missing_ok=True)
            shutil.rmtree(client_dir, ignore_errors=True)  # the client's downloads: not the server's disk
            client_dir.mkdir(exist_ok=True)
        with lock:
            report.requests += 1
            report.upload_mb_total += size / 2**20
            counter["done"] += 1


def mark_baseline(proc: subprocess.Popen, probe: Path, counter: dict, timeout: float = 300) -> None:
    """The probe's baseline at the end of the warm-up (SIGUSR1), taken between requests: the clients
    wait while it runs, as it holds the server's interpreter for seconds (a request would time out)."""
    counter["go"].clear()
    deadline = time.monotonic() + timeout
    while counter["done"] < counter["next"] and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGUSR1)
    while not (probe / "baseline.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.5)
    counter["go"].set()


def sampler(proc: subprocess.Popen, cache: Path, tmp: Path, cfg: SoakConfig, counter: dict, report: SoakReport,
            start: float, stop: threading.Event, live: Path | None = None) -> None:  # fmt: skip
    marked = False
    while not stop.wait(cfg.sample_every):
        if cfg.diagnose and not marked and counter["done"] >= int(cfg.warmup * cfg.requests):
            mark_baseline(proc, cache.parent / "probe", counter)
            marked = True
        try:
            sample = Sample(round(time.monotonic() - start, 2), counter["done"], round(rss_mb(proc.pid), 1),
                            round(folder_mb(cache), 2), round(folder_mb(tmp), 2))  # fmt: skip
        except (OSError, ValueError):
            return  # the server is gone
        report.samples.append(sample)
        if live is not None:  # progress on disk while it runs
            with live.open("a") as f:
                f.write(
                    f"{sample.t},{sample.done},{sample.rss_mb},{sample.cache_mb},{sample.downloads_mb},{report.errors}\n"
                )


def run_soak(cfg: SoakConfig, work: Path | None = None, live: Path | None = None) -> SoakReport:
    """Start the server, run the clients to `cfg.requests`, sample throughout, stop the server."""
    import platform

    work = Path(work or tempfile.mkdtemp(prefix="sensorium-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    device = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores), server torch threads {cfg.threads}"
    report = SoakReport(asdict(cfg), device)
    proc, url, cache, tmp, launched = start_server(cfg, work)
    try:
        wait_until_answering(proc, url, timeout=300)
        report.startup_seconds = time.monotonic() - launched
        from gradio_client import Client

        info = Client(url, verbose=False).predict(api_name="/info")
        modalities = [m for m, v in info["modalities"].items() if v["available"]]
        counter, lock, stop = {"next": 0, "done": 0, "go": threading.Event()}, threading.Lock(), threading.Event()
        counter["go"].set()
        start = time.monotonic()
        watch = threading.Thread(target=sampler, args=(proc, cache, tmp, cfg, counter, report, start, stop, live),
                                 daemon=True)  # fmt: skip
        watch.start()
        folders = [work / f"client{i}" for i in range(cfg.clients)]
        clients = [threading.Thread(target=client_loop, args=(url, cfg, counter, lock, report, modalities, folder),
                                    daemon=True) for folder in folders]  # fmt: skip
        for folder, c in zip(folders, clients, strict=True):
            folder.mkdir(exist_ok=True)
            c.start()
        for c in clients:
            c.join()
        report.seconds = time.monotonic() - start
        stop.set()
        watch.join()
        report.samples.append(Sample(round(report.seconds, 2), counter["done"], round(rss_mb(proc.pid), 1),
                                     round(folder_mb(cache), 2), round(folder_mb(tmp), 2)))  # fmt: skip
        if cfg.diagnose:
            report.diagnosis = diagnosis(proc, work / "probe")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return report


def diagnosis(proc: subprocess.Popen, probe: Path, timeout: float = 300) -> dict:
    """Ask the probe for its final report (SIGUSR2: growth since the baseline, then malloc_trim) and read it."""
    proc.send_signal(signal.SIGUSR2)
    final = probe / "final.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not final.is_file():
        time.sleep(1)
    time.sleep(1)  # written in one call; let it finish
    return json.loads(final.read_text()) if final.is_file() else {"error": "the probe wrote no final report"}


def report_from_live(live: Path, cfg: SoakConfig) -> SoakReport:
    """The report of a run from its live.csv (e.g. one stopped early): the samples, the requests
    done and the errors counted up to its last line."""
    rows = [line.split(",") for line in live.read_text().splitlines()[1:] if line.strip()]
    report = SoakReport(asdict(cfg), "see the run's header")
    report.samples = [Sample(float(r[0]), int(r[1]), float(r[2]), float(r[3]), float(r[4])) for r in rows]
    if rows:
        report.requests, report.errors, report.seconds = int(rows[-1][1]), int(rows[-1][5]), float(rows[-1][0])
    report.config["requests"] = report.requests  # warm-up is a fraction of what was done
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=SoakConfig.requests)
    p.add_argument("--clients", type=int, default=SoakConfig.clients)
    p.add_argument("--ttl", type=float, default=SoakConfig.ttl)
    p.add_argument("--max-megapixels", type=float, default=SoakConfig.max_megapixels)
    p.add_argument("--checkpoint", default="", help="checkpoint folder; 'tiny' = a tiny random model")
    p.add_argument("--threads", type=int, default=SoakConfig.threads)
    p.add_argument("--resolutions", default="128,192,256", help="output sizes, cycled at random")
    p.add_argument("--warmup", type=float, default=SoakConfig.warmup)
    p.add_argument("--rss-growth-mb", type=float, default=100.0, help="bound on RSS growth after warm-up")
    p.add_argument("--cache-bound-mb", type=float, default=500.0, help="bound on each folder after warm-up")
    p.add_argument("--diagnose", action="store_true", help="run the server under benchmarks/soak_probe.py")
    p.add_argument("--trace-frames", type=int, default=0, help="with --diagnose: tracemalloc frames (0: off)")
    p.add_argument("--probe-trim", type=float, default=0.0, help="with --diagnose: malloc_trim every S seconds")
    p.add_argument("--malloc-arenas", type=int, default=None,
                   help="the server's --malloc-arenas (default: the app's; 0: the allocator's own setting)")  # fmt: skip
    p.add_argument("--trim-every", type=float, default=SoakConfig.trim_every,
                   help="the server's --trim-every: seconds between returns of freed memory (0: never)")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="folder for report.json and samples.csv")
    p.add_argument("--summarise", type=Path, default=None, help="only summarise this live.csv of a run")
    args = p.parse_args(argv)
    cfg = SoakConfig(requests=args.requests, clients=args.clients, ttl=args.ttl, max_megapixels=args.max_megapixels,
                     checkpoint=args.checkpoint, threads=args.threads, warmup=args.warmup, diagnose=args.diagnose,
                     trace_frames=args.trace_frames, probe_trim=args.probe_trim,
                     malloc_arenas=args.malloc_arenas, trim_every=args.trim_every,
                     resolutions=tuple(int(r) for r in args.resolutions.split(",")))  # fmt: skip
    if args.summarise:
        summary = report_from_live(args.summarise, cfg).summary()
        problems = flat(summary, args.rss_growth_mb, args.cache_bound_mb)
        print(json.dumps({**summary, "problems": problems}, indent=1))
        return 1 if problems else 0
    work = Path(tempfile.mkdtemp(prefix="sensorium-soak-"))
    try:
        live = None
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            live = args.out / "live.csv"
            live.write_text("t,done,rss_mb,cache_mb,downloads_mb,errors\n")
        report = run_soak(cfg, work, live)
        summary = report.summary()
        problems = flat(summary, args.rss_growth_mb, args.cache_bound_mb)
        print(json.dumps({**summary, "problems": problems, "errors_seen": report.error_messages[:5]}, indent=1))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "report.json").write_text(json.dumps({"summary": summary, "problems": problems,
                                                              "config": report.config, "diagnosis": report.diagnosis,
                                                              "errors": report.error_messages}, indent=1))  # fmt: skip
            lines = ["t,done,rss_mb,cache_mb,downloads_mb"] + [
                f"{s.t},{s.done},{s.rss_mb},{s.cache_mb},{s.downloads_mb}" for s in report.samples
            ]
            (args.out / "samples.csv").write_text("\n".join(lines) + "\n")
            shutil.copy(work / "server.log", args.out / "server.log")
            if (work / "probe").is_dir():
                shutil.copytree(work / "probe", args.out / "probe", dirs_exist_ok=True)
        return 1 if problems else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
