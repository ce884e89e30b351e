"""Run every benchmark and print its table; each appends to benchmarks/RESULTS.md.

    python -m benchmarks.run --quick        # CPU: a few minutes
    python -m benchmarks.run --device cuda  # full tables on a GPU
"""

from __future__ import annotations

import argparse
import time

from . import (
    bench_app,
    bench_data,
    bench_explore,
    bench_face_mesh,
    bench_generator,
    bench_pipeline,
    bench_precision,
    bench_runtime,
    bench_senses,
    bench_training,
)
from .common import publish


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device")
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    a = p.parse_args()
    write = not a.no_write
    t0 = time.perf_counter()
    bench_generator.run(a.quick, a.device, "demo", write)
    publish(bench_senses.run(a.quick, a.device or "cpu"), write)
    publish(bench_face_mesh.run(a.quick, a.device or "cpu"), write)
    bench_training.run(a.quick, "demo", write=write)
    bench_data.run(a.quick, write=write)
    bench_pipeline.run(a.quick, a.device, write=write)
    bench_app.run(a.quick, 20, write=write)
    bench_runtime.run(5 if a.quick else 15, write=write)
    bench_explore.run(2 if a.quick else 5, 10 if a.quick else 30, write=write)
    if not a.quick:  # every example under bf16: ~6 min on a CPU without bf16 units
        bench_precision.run(write)
    print(f"all benchmarks: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
