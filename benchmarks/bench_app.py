"""App round trip through the running server: start time, then the server-side time of a toggle
(cached maps and style: content encoder + generator only) and of a new-image request (senses +
style + generator), median and p95 over N requests from gradio_client on loopback.

    python -m benchmarks.bench_app [--quick] [--requests 20] [--checkpoint DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from .common import fresh_variant, header, ms_cells, publish

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(proc: subprocess.Popen, url: str, timeout: float = 120.0) -> None:
    """Poll the app at `url` until /gradio_api/info answers: the one rule for "started" that every
    benchmark uses. Raises if the process exits first or `timeout` seconds pass."""
    import urllib.request

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode} before it answered")
        try:
            urllib.request.urlopen(url.rstrip("/") + "/gradio_api/info", timeout=1)
            return
        except Exception:
            time.sleep(0.2)
    raise TimeoutError(f"the app did not answer within {timeout:g} s")  # the caller stops its process


def export_graphs(checkpoint: str | None = None, env: dict[str, str] | None = None, root: Path = ROOT) -> None:
    """Export the checkpoint's ONNX graphs into the cache (`env` over this environment) before an
    app starts, so it serves on its final runtime from the first request: on a cold cache the app
    exports them itself once answering and switches mid-measurement. Without onnx: nothing to do."""
    subprocess.run([sys.executable, "-m", "sensorium.runtime.onnx_export", *([checkpoint] if checkpoint else [])],
                   cwd=root, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)  # fmt: skip


def start_app(checkpoint: str | None, port: int, runtime: str | None = None, root: Path = ROOT,
              timeout: float = 120.0, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, float]:  # fmt: skip
    """Launch `python app.py` (of the checkout at `root`, with `env` over this environment) and wait
    until it answers; returns (process, seconds to ready)."""
    cmd = [sys.executable, "app.py", "--port", str(port), "--host", "127.0.0.1"]
    if checkpoint:
        cmd += ["--checkpoint", checkpoint]
    if runtime:
        cmd += ["--runtime", runtime]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})})  # fmt: skip
    try:
        wait_until_answering(proc, f"http://127.0.0.1:{port}/", timeout)
    except BaseException:
        proc.kill()
        raise
    return proc, time.perf_counter() - t0


def server_total(status: str) -> float | None:
    m = re.search(r"total ([0-9.]+) s", status)
    return float(m.group(1)) if m else None


def run(quick: bool = True, requests: int = 20, checkpoint: str | None = None, write: bool = True) -> str:
    from gradio_client import Client, handle_file

    export_graphs(checkpoint)
    port = free_port()
    proc, ready_s = start_app(checkpoint, port)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        info = client.predict(api_name="/info")
        usable = [m for m, v in info["modalities"].items() if v.get("available")] if isinstance(info, dict) and "modalities" in info else ["edges", "person", "pose"]
        tmp = Path(tempfile.mkdtemp())
        content, style = EXAMPLES / "content_obama_portrait.jpg", EXAMPLES / "content_astronaut.jpg"
        client.predict(handle_file(str(content)), handle_file(str(style)), usable, {}, 256, api_name="/translate")
        toggles_server, toggles_client = [], []
        for i in range(requests):  # untick one modality at a time: maps and style come from the caches
            mods = [m for j, m in enumerate(usable) if j != i % len(usable)]
            t = time.perf_counter()
            _, _, status = client.predict(handle_file(str(content)), handle_file(str(style)), mods, {}, 256, api_name="/translate")
            toggles_client.append(time.perf_counter() - t)
            toggles_server.append(server_total(status) or float("nan"))
        news_server, news_client = [], []
        base = Image.open(content).convert("RGB")
        for i in range(requests):  # a new image each time: senses run
            path = tmp / f"new{i}.png"
            fresh_variant(base, i).save(path)
            t = time.perf_counter()
            _, _, status = client.predict(handle_file(str(path)), handle_file(str(style)), usable, {}, 256, api_name="/translate")
            news_client.append(time.perf_counter() - t)
            news_server.append(server_total(status) or float("nan"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    device = "cuda" if "CUDA" in str(info) or "cuda" in str(info) else "cpu"
    import torch

    text = header("App round trip (gradio_client on loopback, resolution 256: the 410×512 portrait at 192×256)", torch.device("cpu" if device == "cpu" else "cuda"),
                  f"checkpoint {checkpoint or 'bundled demo'}, {requests} requests each")  # fmt: skip
    text += f"\n- app start (process launch → answering): {ready_s:.1f} s\n\n"
    text += "| request | server median | server p95 | client median | client p95 |\n|---|---|---|---|---|\n"
    text += f"| toggle (cached maps + style) | {ms_cells(toggles_server)} | {ms_cells(toggles_client)} |\n"
    text += f"| new content image (senses run) | {ms_cells(news_server)} | {ms_cells(news_client)} |\n"
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--checkpoint")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    run(a.quick, a.requests, a.checkpoint, not a.no_write)


if __name__ == "__main__":
    main()
