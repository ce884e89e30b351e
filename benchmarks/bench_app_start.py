"""App start (process launch → the server answering) as bench_app measures it, several rounds,
optionally interleaved with another checkout of the code (`--base DIR`, e.g. an older commit
unpacked with `git archive`), so both see the same machine load. Per start: wall seconds, the
app process's CPU seconds up to that moment (steadier than wall on a shared machine), and the
1-minute load average; then the first /info call through gradio_client (the pipeline is loaded
and its senses resolved before the server listens, so it answers at once).

`--cold`: instead, starts with an empty ONNX graph cache (a new Space's first start), and times
both the first answer and the moment /info reports the `onnx` runtime, which the app switches to
once it has exported the graphs behind its first answers.

    python -m benchmarks.bench_app_start [--rounds 5] [--base DIR] [--cold] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from .bench_app import export_graphs, free_port, start_app
from .common import header, publish

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start_once(root: Path, timeout: float = 180.0) -> dict[str, float]:
    """Launch `python app.py` in `root` and wait until /gradio_api/info answers (bench_app's rule)."""
    port = free_port()
    load = os.getloadavg()[0]
    proc, ready = start_app(None, port, root=root, timeout=timeout)
    try:
        cpu = cpu_seconds(proc.pid)
        from gradio_client import Client

        t1 = time.perf_counter()
        Client(f"http://127.0.0.1:{port}/", verbose=False).predict(api_name="/info")
        return {"ready_s": ready, "cpu_s": cpu, "load": load, "first_info_s": time.perf_counter() - t1}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cold_start_once(timeout: float = 180.0) -> dict[str, float]:
    """Launch `python app.py` with an empty graph cache; seconds to the first answer and to `onnx`."""
    from gradio_client import Client

    from sensorium.runtime.onnx_export import CACHE_ENV

    with tempfile.TemporaryDirectory(prefix="sensorium-graphs-") as cache:
        port = free_port()
        t0 = time.perf_counter()
        proc, ready = start_app(None, port, timeout=timeout, env={CACHE_ENV: cache})
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            while client.predict(api_name="/info")["runtime"] != "onnx":
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError(f"no switch to onnx within {timeout:g} s")
                time.sleep(0.2)
            return {"ready_s": ready, "onnx_s": time.perf_counter() - t0, "load": os.getloadavg()[0]}
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def run_cold(rounds: int, write: bool) -> str:
    import torch

    runs = [cold_start_once() for _ in range(rounds)]
    for r in runs:
        print({k: round(v, 2) for k, v in r.items()}, flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    text = header("App start with an empty graph cache (process launch → answering → serving on onnx)",
                  torch.device("cpu"), f"{rounds} rounds, bundled demo checkpoint")  # fmt: skip
    text += ("\n| answering, median (range) | on onnx, median (range) | load avg (1 min, after) |\n|---|---|---|\n"
             f"| {med['ready_s']:.1f} s ({min(r['ready_s'] for r in runs):.1f}–{max(r['ready_s'] for r in runs):.1f}) "
             f"| {med['onnx_s']:.1f} s ({min(r['onnx_s'] for r in runs):.1f}–{max(r['onnx_s'] for r in runs):.1f}) "
             f"| {med['load']:.1f} |\n")  # fmt: skip
    return publish(text, write)


def summary(runs: list[dict[str, float]]) -> str:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    lo, hi = min(r["ready_s"] for r in runs), max(r["ready_s"] for r in runs)
    return (f"{med['ready_s']:.1f} s ({lo:.1f}–{hi:.1f}) | {med['cpu_s']:.1f} s | {med['first_info_s'] * 1000:.0f} ms | "
            f"{med['load']:.1f}")  # fmt: skip


def run(rounds: int = 5, base: Path | None = None, write: bool = True) -> str:
    roots = {"this code": ROOT, **({f"base ({base.name})": base} if base else {})}
    for root in roots.values():  # warm starts: the graphs each checkout's app would load are cached
        export_graphs(root=root)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
    for i in range(rounds):  # interleaved, alternating which goes first
        for name in list(roots)[:: 1 if i % 2 == 0 else -1]:
            runs[name].append(start_once(roots[name]))
            print(name, {k: round(v, 2) for k, v in runs[name][-1].items()}, flush=True)
    import torch

    text = header("App start (process launch → answering)", torch.device("cpu"),
                  f"{rounds} rounds{', interleaved' if base else ''}, bundled demo checkpoint")  # fmt: skip
    text += ("\n| code | start, median (range) | app CPU to ready | first /info after | load avg (1 min) |\n"
             "|---|---|---|---|---|\n")  # fmt: skip
    text += "".join(f"| {name} | {summary(r)} |\n" for name, r in runs.items())
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--base", type=Path, help="another checkout to start in turn (same machine, same load)")
    p.add_argument("--cold", action="store_true", help="start with an empty graph cache; time the switch to onnx")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    if a.cold:
        run_cold(a.rounds, not a.no_write)
    else:
        run(a.rounds, a.base, not a.no_write)


if __name__ == "__main__":
    main()
