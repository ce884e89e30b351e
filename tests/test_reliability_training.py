"""Training survives being killed. Real `python -m training.train` processes (tiny model, tiny real
photo set, one CPU thread) are SIGKILLed mid-run and mid-checkpoint-write, or left with a
truncated latest checkpoint, then continued with `--resume latest`: the final training state and
the exported weights must equal an uninterrupted run's, bit for bit.

Mid-write kills use the SENSORIUM_CKPT_PAUSE hook of training/fault_injection.py, which parks the save
of one step at a chosen stage so the kill lands exactly there, not by luck of timing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.training_fixtures import TINY_MODEL_ARGS, prepare_edges_dataset
from training import checkpoint

ROOT = Path(__file__).resolve().parents[1]
STEPS = 8  # checkpoints at 2, 4, 6, 8
TIMEOUT = 120  # seconds for any one process; a run takes ~10 s on a busy 2-core box
# One thread: CPU kernels then reduce in a fixed order, so two runs are bitwise identical.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
COMPARED = ("model", "disc", "ema", "opt_g", "opt_d", "torch_rng", "step")


def train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "training.train", "--data", str(data), "--out", str(out),
            "--steps", str(STEPS), "--batch_size", "2", "--ckpt_every", "2", "--log_every", "1000",
            "--sample_every", "1000", "--perceptual", "none", *TINY_MODEL_ARGS, *extra]  # fmt: skip


class Run:
    """A training subprocess; stdout+stderr go to `out`/console-N.txt (a pipe could fill up and block)."""

    def __init__(self, data: Path, out: Path, *extra: str, pause: str | None = None):
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.log = out, out / f"console-{len(list(out.glob('console-*.txt')))}.txt"
        env = {**ENV, "SENSORIUM_CKPT_PAUSE": pause} if pause else ENV
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(train_cmd(data, out, *extra), cwd=ROOT, env=env, stdout=f,
                                         stderr=subprocess.STDOUT)  # fmt: skip

    @property
    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until(self, done, what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not done():
            assert self.proc.poll() is None, (
                f"training ended (rc {self.proc.returncode}) before {what}:\n{self.text[-3000:]}"
            )
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.text[-3000:]}"
            time.sleep(0.01)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(TIMEOUT) == -signal.SIGKILL, "the run finished before it could be killed"

    def finish(self) -> str:
        try:
            rc = self.proc.wait(TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert rc == 0, self.text[-3000:]
        return self.text


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepare_edges_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    """Started together at the first test, so they overlap it: the uninterrupted reference and the
    two runs that park (sleeping, no CPU) inside a checkpoint save until a test kills them."""
    started = {name: Run(data, tmp_path_factory.mktemp(name), pause=pause)
               for name, pause in (("reference", None), ("tmp", "4:tmp"), ("sidecar", "6:sidecar"))}  # fmt: skip
    yield started
    for run in started.values():
        if run.proc.poll() is None:
            run.proc.kill()


@pytest.fixture
def reference(runs):
    return lambda: (runs["reference"].finish(), runs["reference"].out)[1]


def assert_same(a, b, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def assert_matches_reference(out: Path, reference_out: Path) -> None:
    final = f"state-{STEPS:08d}.pt"
    a = checkpoint.load_state(reference_out / "checkpoints" / final)
    b = checkpoint.load_state(out / "checkpoints" / final)
    for part in COMPARED:
        assert_same(a[part], b[part], part)
    exported = "export/model.safetensors"
    assert (reference_out / exported).read_bytes() == (out / exported).read_bytes()
    assert not list((out / "checkpoints").glob("*.tmp")), "a stale temp file was left behind"


def completed(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "checkpoints").glob("state-*.pt.sha256"))


@pytest.mark.slow  # starts the reference run and the three killed runs
def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(data, tmp_path, reference):
    run = Run(data, tmp_path)
    run.wait_until(lambda: completed(tmp_path), "the first checkpoint")
    run.kill()
    assert not (tmp_path / "export").exists()
    last = int(completed(tmp_path)[-1][6:14])
    assert last < STEPS

    text = Run(data, tmp_path, "--resume", "latest").finish()
    assert f"resumed from state-{last:08d}.pt at step {last}" in text
    assert_matches_reference(tmp_path, reference())


def test_sigkill_mid_checkpoint_write_resumes_from_the_previous_good_one(data, runs, reference):
    run, ckpts = runs["tmp"], runs["tmp"].out / "checkpoints"
    run.wait_until(lambda: "checkpoint 4: paused at tmp" in run.text, "the step-4 save")
    run.kill()  # the temp file is written but not renamed: no state-4, only its .tmp
    assert (ckpts / "state-00000004.pt.tmp").is_file() and not (ckpts / "state-00000004.pt").exists()

    text = Run(data, run.out, "--resume", "latest").finish()
    assert "resumed from state-00000002.pt at step 2" in text
    assert_matches_reference(run.out, reference())


def test_unverified_and_truncated_checkpoints_are_reported_and_skipped(data, runs, reference):
    run, ckpts = runs["sidecar"], runs["sidecar"].out / "checkpoints"
    run.wait_until(lambda: "checkpoint 6: paused at sidecar" in run.text, "the step-6 save")
    run.kill()  # state-6 renamed into place, its checksum never written
    assert (ckpts / "state-00000006.pt").is_file() and not (ckpts / "state-00000006.pt.sha256").exists()
    previous = ckpts / "state-00000004.pt"
    previous.write_bytes(previous.read_bytes()[: previous.stat().st_size // 2])  # a full disk, a bad copy

    text = Run(data, run.out, "--resume", "latest").finish()
    assert "skipping corrupt checkpoint state-00000006.pt: no checksum file" in text
    assert "skipping corrupt checkpoint state-00000004.pt: checksum mismatch" in text
    assert "resumed from state-00000002.pt at step 2" in text
    assert "set aside state-00000006.pt.corrupt" in text and (ckpts / "state-00000006.pt.corrupt").is_file()
    assert_matches_reference(run.out, reference())
