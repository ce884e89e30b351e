"""Training really trains: a tiny model overfits real photos, resume is bitwise exact, and a
2-process torchrun run keeps both ranks identical."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.training_fixtures import TINY_MODEL_ARGS, prepare_edges_dataset
from training import checkpoint
from training.train import main as train_main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "checkpoints" / "sensorium-portraits"


def run_args(data, out, steps, **extra):
    args = ["--data", str(data), "--out", str(out), "--steps", str(steps), "--batch_size", "2",
            "--log_every", "1", "--sample_every", "1000", "--ckpt_every", "3", *TINY_MODEL_ARGS]  # fmt: skip
    for k, v in extra.items():
        args += [f"--{k}", str(v)]
    return args


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepare_edges_dataset(tmp_path_factory.mktemp("data"))


def read_log(out):
    return [json.loads(line) for line in (Path(out) / "log.jsonl").read_text().splitlines()]


def test_tiny_model_overfits_real_photos(data, tmp_path):
    # Pixel L1 + feature matching + GAN only: the random-VGG perceptual term would triple the CPU time.
    train_main(run_args(data, tmp_path, 120, lambda_l1=10, perceptual="none", lr_g=3e-3, lr_d=2e-4,
                        modality_dropout=0, batch_size=4, ema_decay=0.9))  # fmt: skip
    log = read_log(tmp_path)
    first, last = log[0]["rec_l1"], min(r["rec_l1"] for r in log[-5:])
    assert last < 0.5 * first, (first, last)
    assert (tmp_path / "export" / "model.safetensors").is_file()
    assert list((tmp_path / "samples").glob("*.png"))
    # The export names the senses its maps came from; the pipeline extracts with those first.
    from sensorium.pipeline import TranslationPipeline

    pipe = TranslationPipeline.from_pretrained(tmp_path / "export", device="cpu")
    assert pipe.model.info.senses == {"edges": "edges-canny"} == pipe.senses.preferred


def test_resume_reproduces_an_uninterrupted_run_bitwise(data, tmp_path):
    train_main(run_args(data, tmp_path / "straight", 6))
    train_main(run_args(data, tmp_path / "killed", 3))  # "killed" after its step-3 checkpoint
    # Only the run dir, the new step count and --resume: the rest is the config the run started with.
    train_main(["--out", str(tmp_path / "killed"), "--steps", "6", "--resume", "latest"])
    a = checkpoint.load_state(tmp_path / "straight" / "checkpoints" / "state-00000006.pt")
    b = checkpoint.load_state(tmp_path / "killed" / "checkpoints" / "state-00000006.pt")
    for part in ("model", "disc", "ema"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)


def test_corrupt_latest_checkpoint_falls_back_to_previous(data, tmp_path, capsys):
    train_main(run_args(data, tmp_path, 6))
    latest = tmp_path / "checkpoints" / "state-00000006.pt"
    latest.write_bytes(latest.read_bytes()[:1000])  # truncated by a crash or a full disk
    path, state = checkpoint.load_latest_valid(tmp_path / "checkpoints")
    assert path.name == "state-00000003.pt" and state["step"] == 3
    assert "checksum mismatch" in capsys.readouterr().out


def test_pickle_checkpoint_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    path = tmp_path / "state-00000001.pt"
    torch.save({"version": 1, "payload": Evil()}, path)
    (tmp_path / "state-00000001.pt.sha256").write_text(checkpoint._sha256(path))
    with pytest.raises(checkpoint.CorruptCheckpoint, match="not a safe"):
        checkpoint.load_state(path)
    assert not (tmp_path / "pwned").exists()


def test_torchrun_two_processes_on_cpu_keep_ranks_identical(data, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "training.train", *run_args(data, tmp_path, 3, batch_size=1)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ranks in sync: True" in proc.stdout, proc.stdout[-2000:]
    assert (tmp_path / "export" / "model.safetensors").is_file()


def test_ema_warmup_tracks_weights_early_and_reaches_the_set_decay():
    from training.steps import ema_decay_at

    assert ema_decay_at(0, 0.999) == 0.1  # first step: mostly the trained weights
    assert ema_decay_at(10_000, 0.999) == 0.999
    assert ema_decay_at(5, 0.999, start=10) == 0.0


def test_debias_recovers_weights_from_an_ema_without_warmup():
    from sensorium.config import tiny_config
    from sensorium.model import Sensorium
    from training.debias_ema import debias

    torch.manual_seed(3)
    init = Sensorium(tiny_config())
    trained = Sensorium(tiny_config())  # stands in for the weights training reached
    ema = Sensorium(tiny_config())
    d, steps = 0.99, 50
    with torch.no_grad():  # an EMA started at init, fed constant trained weights
        for pe, pi, pt in zip(ema.parameters(), init.parameters(), trained.parameters(), strict=True):
            pe.copy_(d**steps * pi + (1 - d**steps) * pt)
    recovered = debias(ema, steps, d, seed=3)
    for pr, pt in zip(recovered.parameters(), trained.parameters(), strict=True):
        assert torch.allclose(pr, pt, atol=1e-5)


def test_on_disk_dataset_gives_the_same_batches_as_in_memory(data):
    # Large sets (CelebA-HQ: ~90 GB decoded) cannot be held in memory; both modes must agree.
    from sensorium.data import SenseDataset

    mods = ("edges", "pose")
    mem, disk = SenseDataset(data, mods), SenseDataset(data, mods, in_memory=False)
    assert mem.in_memory and not disk.in_memory and len(mem) == len(disk) == 4
    a, b = mem.batch([3, 0, 2]), disk.batch([3, 0, 2])
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert torch.equal(disk.presence, torch.tensor([[1.0, 0.0]] * 4))
    assert not SenseDataset(data, mods, memory_budget=1).in_memory  # auto: over budget stays on disk


def test_prefetched_on_disk_training_equals_in_memory_training(data, tmp_path):
    # Reading ahead on a thread must change nothing: same batches, same weights, bitwise.
    from sensorium.data import SenseDataset
    from training.prefetch import BatchPrefetcher

    disk = SenseDataset(data, ("edges", "pose"), in_memory=False, decode_threads=2)
    order = {0: [3, 1], 1: [0, 2], 2: [1, 1], 3: [2, 0]}
    prefetch = BatchPrefetcher(disk, order.__getitem__, last_step=4)
    assert prefetch.enabled
    for step in (0, 1, 3, 2):  # in order, then a jump ahead and back (a resume)
        got, want = prefetch(step), disk.batch(order[step])
        assert all(torch.equal(got[k], want[k]) for k in want), step
    prefetch.close()

    train_main(run_args(data, tmp_path / "memory", 4, data_placement="memory"))
    train_main(run_args(data, tmp_path / "disk", 4, data_placement="disk", num_workers=2))
    a = checkpoint.load_state(tmp_path / "memory" / "checkpoints" / "state-00000004.pt")
    b = checkpoint.load_state(tmp_path / "disk" / "checkpoints" / "state-00000004.pt")
    assert b["config"]["data_placement"] == "disk"
    for part in ("model", "disc", "ema"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)


def test_one_generator_forward_serves_both_updates_and_d_never_trains_g():
    # D's loss must not reach G through the shared fakes; G's loss must reach every G parameter.
    from contextlib import nullcontext

    from sensorium import Sensorium, tiny_config
    from sensorium.discriminator import MultiscaleDiscriminator
    from training.config import TrainConfig
    from training.steps import Batch, d_step, g_step, generate_pair

    torch.manual_seed(0)
    cfg = TrainConfig(model=tiny_config(), perceptual="none", lambda_l1=1.0, r1_gamma=1.0, r1_every=1)
    g = Sensorium(cfg.model)
    d = MultiscaleDiscriminator(3, cfg.model.map_channels, 8, 3, 2, 1)
    b, c = 2, cfg.model.map_channels
    batch = Batch(torch.rand(b, 3, 32, 32) * 2 - 1, torch.rand(b, c, 32, 32), torch.ones(b, len(cfg.model.modalities)),
                  torch.zeros(b, dtype=torch.long), torch.tensor([1, 0]))  # fmt: skip
    rec, paired, _ = generate_pair(g, batch)
    d_loss, stats = d_step(d, batch, rec, paired, batch.maps, cfg, 0, nullcontext)
    d_loss.backward()
    assert "d_r1" in stats and all(p.grad is None for p in g.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())
    d.requires_grad_(False)
    g_loss, _, _ = g_step(d, None, batch, rec, paired, batch.maps, cfg, nullcontext)
    g_loss.backward()  # the graph kept from the one forward is still whole
    unreached = [n for n, p in g.named_parameters() if p.grad is None]
    assert not unreached, unreached


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_warm_start_from_an_export_takes_its_architecture_and_both_networks(data, tmp_path):
    train_main(run_args(data, tmp_path / "first", 3, perceptual="none"))
    source = tmp_path / "first" / "export"
    assert (source / checkpoint.DISCRIMINATOR_NAME).is_file()
    # No --model.* flags: the architecture comes from the export. With both learning rates at 0
    # the run changes nothing, so its export must hold the source's weights.
    args = ["--data", str(data), "--out", str(tmp_path / "warm"), "--steps", "1", "--batch_size", "2",
            "--perceptual", "none", "--lr_g", "0", "--lr_d", "0", "--init_from", str(source)]  # fmt: skip
    export = train_main(args)
    a, b = _weights(source / "model.safetensors"), _weights(export / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    d_src, d_new = _weights(source / checkpoint.DISCRIMINATOR_NAME), _weights(export / checkpoint.DISCRIMINATOR_NAME)
    for k in d_src:
        if not k.endswith(("weight_u", "weight_v")):  # spectral norm's power iteration moves on each forward
            assert torch.equal(d_src[k], d_new[k]), k
    meta = json.loads((export / "config.json").read_text())["metadata"]
    assert meta["init_from"] == {"source": str(source), "steps": 3, "discriminator": True}
    assert meta["batch_size"] == 2 and meta["training_minutes"] >= 0


def test_warm_start_without_a_discriminator_warns_and_a_shape_change_is_named(data, tmp_path, caplog):
    train_main(run_args(data, tmp_path / "first", 3, perceptual="none"))
    source = tmp_path / "first" / "export"
    (source / checkpoint.DISCRIMINATOR_NAME).unlink()
    base = ["--data", str(data), "--steps", "1", "--batch_size", "2", "--perceptual", "none", "--init_from", str(source)]
    with caplog.at_level("WARNING"):
        export = train_main([*base, "--out", str(tmp_path / "no_d")])
    assert "discriminator starts from random weights" in caplog.text
    assert json.loads((export / "config.json").read_text())["metadata"]["init_from"]["discriminator"] is False
    with pytest.raises(SystemExit, match="do not fit this architecture"):
        train_main([*base, "--out", str(tmp_path / "wider"), "--model.channels", "12"])
    with pytest.raises(SystemExit, match="no config.json there"):
        train_main([*base[:-1], str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])


@pytest.mark.parametrize("module", ["training.train", "training.evaluate", "training.compare"])
def test_a_wrong_data_folder_is_one_clear_line(module, tmp_path):
    import importlib

    argv = {"training.train": ["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")],
            "training.evaluate": [str(DEMO), "--data", str(tmp_path / "nowhere"),
                                  "--out", str(tmp_path / "eval"), "--no-senses"],
            "training.compare": ["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "cmp"), "--no-senses",
                                 "--checkpoints", f"demo={DEMO}"]}[module]  # fmt: skip
    with pytest.raises(SystemExit, match=r"nowhere: no prepared samples \(\*\.npz\) under .*run training/prepare.py first"):
        importlib.import_module(module).main([*argv])


def test_the_bundled_checkpoint_can_be_warm_started():
    # The shipped folder must stay a valid --init_from source: its discriminator fits the one its
    # own config builds, and its generator loads into the architecture that config describes.
    import copy

    from sensorium.discriminator import MultiscaleDiscriminator
    from sensorium.model import Sensorium
    from training import warm_start

    cfg = warm_start.model_config(str(DEMO), {})
    model = Sensorium(cfg)
    info = warm_start.load_into(str(DEMO), model, copy.deepcopy(model), MultiscaleDiscriminator.from_config(cfg))
    steps = json.loads((DEMO / "config.json").read_text())["metadata"]["steps"]
    assert info == {"source": str(DEMO), "steps": steps, "discriminator": True}


def test_pruning_keeps_the_state_just_written_and_resume_sets_later_corrupt_ones_aside(tmp_path):
    """keep_last=1, a resume from 1000 past a corrupt 2000: the save at 1500 must survive its own
    pruning (by name, 2000 outranked it and 1500 was deleted)."""
    ckpts = tmp_path / "checkpoints"
    for step in (1000, 2000):
        checkpoint.save_state(ckpts, step, {"w": torch.zeros(1)}, keep_last=5)
    (ckpts / "state-00002000.pt.sha256").unlink()  # killed before its checksum was written
    path, state = checkpoint.load_latest_valid(ckpts)
    assert state["step"] == 1000
    assert [p.name for p in checkpoint.set_aside_after(ckpts, 1000)] == ["state-00002000.pt.corrupt"]
    checkpoint.save_state(ckpts, 1500, {"w": torch.ones(1)}, keep_last=1)
    assert [p.name for p in checkpoint.list_states(ckpts)] == ["state-00001500.pt"]
    assert checkpoint.load_latest_valid(ckpts)[1]["step"] == 1500


def test_a_fresh_start_into_a_run_with_checkpoints_is_refused_and_the_log_keeps_each_step_once(data, tmp_path):
    from training.logger import drop_after

    train_main(run_args(data, tmp_path, 3))
    with pytest.raises(SystemExit, match="add --resume latest"):
        train_main(run_args(data, tmp_path, 6))  # a restart that forgot --resume would prune the run's states
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"step": s}) + "\n" for s in range(1, 6)) + '{"step": 6, "los')  # cut by a kill
    drop_after(log, 3)
    assert [r["step"] for r in read_log(tmp_path)] == [1, 2, 3]


def test_a_damaged_or_other_sized_sample_is_one_line_naming_the_file(data, tmp_path):
    import shutil

    import numpy as np

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    files = sorted(copy.rglob("*.npz"))
    files[1].write_bytes(files[1].read_bytes()[:200])  # a copy cut short
    with pytest.raises(SystemExit, match=rf"{files[1].name}: not a readable prepared sample"):
        train_main(run_args(copy, tmp_path / "run", 1))
    with np.load(files[0]) as sample:
        small = {k: sample[k] for k in sample.files}
    small["image"] = small["image"][: small["image"].shape[0] // 2]  # half as tall as the rest
    np.savez(files[1], **small)
    with pytest.raises(SystemExit, match=r"prepare the whole set at one --resolution"):
        train_main(run_args(copy, tmp_path / "run", 1))
