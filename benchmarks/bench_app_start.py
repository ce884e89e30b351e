"""App start (process launch → the server answering) as bench_app measures it, several rounds,
optionally interleaved with another checkout of the code (`--base DIR`, e.g. an older commit
unpacked with `git archive`), so both see the same machine load. Per start: wall seconds, the
app process's CPU seconds up to that moment (steadier than wall on a shared machine), and the
1-minute load average; then the first /info call through gradio_client (the pipeline is loaded
and its senses resolved before the server listens, so it answers at once).

    python -m benchmarks.bench_app_start [--rounds 5] [--base DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from .bench_app import free_port, start_app
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


def summary(runs: list[dict[str, float]]) -> str:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    lo, hi = min(r["ready_s"] for r in runs), max(r["ready_s"] for r in runs)
    return (f"{med['ready_s']:.1f} s ({lo:.1f}–{hi:.1f}) | {med['cpu_s']:.1f} s | {med['first_info_s'] * 1000:.0f} ms | "
            f"{med['load']:.1f}")  # fmt: skip


def run(rounds: int = 5, base: Path | None = None, write: bool = True) -> str:
    roots = {"this code": ROOT, **({f"base ({base.name})": base} if base else {})}
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
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    run(a.rounds, a.base, not a.no_write)


if __name__ == "__main__":
    main()
