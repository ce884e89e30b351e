"""Train Sensorium. Reads top to bottom: config → devices → data → networks, optimisers, EMA →
resume → the loop (D step, G step, EMA, log, sample, checkpoint) → export.

    python -m training.train --data data/prepared --out runs/demo --steps 20000
    torchrun --nproc_per_node 8 -m training.train --config training/configs/celebahq_256.yaml
    python -m training.train --out runs/demo --resume latest   # continue a killed run
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from sensorium.atomic import write_atomic
from sensorium.checkpoint_info import CheckpointInfo
from sensorium.conditioning import expand_presence
from sensorium.config import ConfigError
from sensorium.data import SampleError, SenseDataset, augment, line_channels
from sensorium.discriminator import MultiscaleDiscriminator
from sensorium.losses import LeCam, VGGPerceptualLoss
from sensorium.model import Sensorium
from sensorium.precision import autocast as precision_autocast
from sensorium.precision import use_bf16
from sensorium.sense_features import SenseFeatureLoss

from . import checkpoint, disc_augment, distributed, fault_injection, warm_start
from .config import RUN_CONFIG, TrainConfig, config_from_args
from .logger import RunLogger
from .prefetch import BatchPrefetcher
from .sampler import batch_indices, step_generator
from .sense_consistency import SenseConsistency
from .steps import (
    Batch,
    d_step,
    drop_modalities,
    ema_decay_at,
    ema_update,
    g_step,
    generate_pair,
    optimizer_step,
    r1_due,
    random_pairing,
    style_view,
)
from .style_statistics import fit_style_statistics


def build_perceptual(cfg: TrainConfig, device: torch.device) -> VGGPerceptualLoss | SenseFeatureLoss | None:
    """VGG19 ImageNet features when available; otherwise the explicit, logged random-VGG fallback.
    `mediapipe`: the trained features of the bundled sense networks instead (sensorium.sense_features)."""
    if cfg.perceptual == "none" or cfg.lambda_vgg == 0:
        return None
    if cfg.perceptual == "mediapipe":
        print("perceptual loss: features of mediapipe's selfie-segmentation and face-mesh networks", flush=True)
        return SenseFeatureLoss().to(device)
    if cfg.perceptual != "auto":
        return VGGPerceptualLoss(cfg.perceptual).to(device)  # type: ignore[arg-type]
    try:  # local copy, hub cache, or torchvision's download
        return VGGPerceptualLoss("imagenet").to(device)
    except FileNotFoundError as exc:
        print(f"perceptual loss: FALLBACK to a fixed random VGG19. {exc}", flush=True)
        return VGGPerceptualLoss("random").to(device)


def build_senses(cfg: TrainConfig, device: torch.device) -> SenseConsistency | None:
    """The frozen sense networks of the consistency terms, when either weight is on."""
    person, landmarks = cfg.lambda_sense_person > 0, cfg.lambda_sense_landmarks > 0
    if not (person or landmarks):
        return None
    senses = SenseConsistency(cfg.model.modalities, person, landmarks).to(device)
    print(f"sense consistency: person {cfg.lambda_sense_person}, landmarks {cfg.lambda_sense_landmarks} "
          f"(mediapipe networks run in torch)", flush=True)  # fmt: skip
    return senses


def main(argv: list[str] | None = None) -> Path:
    cfg, args = config_from_args(argv)
    out = Path(cfg.out)

    # -- devices and precision ---------------------------------------------------------------
    info = distributed.setup()
    device = info.device
    bf16 = use_bf16(cfg.precision, device)
    autocast = lambda: precision_autocast(device, bf16)  # noqa: E731
    memory_format = torch.channels_last if (cfg.channels_last and device.type == "cuda") else torch.contiguous_format
    resume = getattr(args, "resume", None)
    existing = [] if resume else checkpoint.list_states(out / "checkpoints")
    if existing:  # a restart that forgot --resume
        raise SystemExit(f"{out} holds the checkpoints of a run (latest {existing[-1].name}): "
                         "add --resume latest to continue it, or give another --out")  # fmt: skip
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)

    # -- data: each step's batch is a pure function of (seed, step, rank) -----------------------
    in_memory = {"auto": None, "memory": True, "disk": False}[cfg.data_placement]
    try:
        dataset = SenseDataset(cfg.data, cfg.model.modalities, in_memory=in_memory, decode_threads=cfg.num_workers)
    except FileNotFoundError as exc:  # a wrong --data: one line, not a traceback
        raise SystemExit(f"--data {cfg.data}: {exc}") from exc
    except SampleError as exc:  # a damaged sample, or one of another size
        raise SystemExit(f"--data: {exc}") from None
    if len(dataset.domains) != cfg.model.num_domains:
        raise SystemExit(f"data has domains {dataset.domains} but model.num_domains={cfg.model.num_domains}")
    side = int(dataset[0]["image"].shape[-1])
    if cfg.half_res_steps and (side // 2 % cfg.model.stride or side // 2 < 2 * cfg.model.stride):
        raise SystemExit(f"half_res_steps: half of {side}² is too small for model.num_scales={cfg.model.num_scales} "
                         f"(it needs a multiple of {cfg.model.stride} and at least {2 * cfg.model.stride})")  # fmt: skip

    # -- networks, optimisers, EMA -------------------------------------------------------------
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model = Sensorium(cfg.model).to(device, memory_format=memory_format)
    disc = MultiscaleDiscriminator.from_config(cfg.model).to(device, memory_format=memory_format)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    vgg = build_perceptual(cfg, device)
    lecam = LeCam().to(device) if cfg.lambda_lecam > 0 else None
    senses = build_senses(cfg, device)

    # -- resume, else warm start from an export (a resumed state holds everything a warm start gave) --
    start, started_from, seconds_before = 0, None, 0.0
    found = None
    if resume:
        try:
            found = (checkpoint.load_latest_valid(out / "checkpoints", device) if resume == "latest"
                     else (Path(resume), checkpoint.load_state(Path(resume), device)))  # fmt: skip
        except (checkpoint.CorruptCheckpoint, FileNotFoundError) as exc:
            raise SystemExit(f"--resume {resume}: {exc}") from None
        if found is None:
            print(f"no valid checkpoint in {out / 'checkpoints'}; starting from scratch", flush=True)
    if found is not None:
        path, state = found
        changed = config_changes(state.get("config", {}), cfg.to_dict())
        if changed:
            print(f"resume: this run's config differs from the checkpoint's: {changed}", flush=True)
        try:
            model.load_state_dict(state["model"], strict=True)
            disc.load_state_dict(state["disc"], strict=True)
            ema.load_state_dict(state["ema"], strict=True)
        except RuntimeError:
            raise SystemExit(f"--resume: {path.name} holds other networks than this config builds "
                             f"({changed or 'the same config, other shapes'})") from None  # fmt: skip
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        if lecam is not None and "lecam" in state:
            lecam.load_state_dict(state["lecam"])
        apply_optimiser_settings(cfg, opt_g, opt_d)  # the flags of this run, not the saved ones
        start = state["step"]
        seconds_before = float(state.get("train_seconds", 0.0))  # wall time of earlier processes
        started_from = state.get("started_from") or ({"source": cfg.init_from} if cfg.init_from else None)
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"].cpu())
        print(f"resumed from {path.name} at step {start}", flush=True)
    elif cfg.init_from:
        started_from = warm_start.load_into(cfg.init_from, model, ema, disc)
        print(f"warm start from {cfg.init_from} (its step {started_from['steps']}, discriminator "
              f"{'loaded' if started_from['discriminator'] else 'random'})", flush=True)  # fmt: skip
    # A collective every rank joins, resumed or not: it also holds rank 0's renames below until each
    # rank has read its state.
    if not distributed.same_on_all(start, info):
        raise SystemExit(f"rank {info.rank} resumed at step {start}, another rank elsewhere: give every node "
                         "the same --out (a shared folder) or the same checkpoints")  # fmt: skip
    if found is not None and info.is_main:  # later states: unverified ("latest" picks the newest valid), or left behind
        why, suffix = ("which did not verify", "corrupt") if resume == "latest" else ("a later step", "set-aside")
        for aside in checkpoint.set_aside_after(out / "checkpoints", start, suffix):
            print(f"resume: set aside {aside.name}, {why}", flush=True)
    if info.is_main:  # once the run is known to start: a failed resume leaves the run's config as it was
        write_atomic(out / RUN_CONFIG, json.dumps(cfg.to_dict(), indent=2).encode())

    style_unused = cfg.model.modulation == "none" and not cfg.model.use_fusion
    g_train = DDP(model, find_unused_parameters=style_unused) if info.enabled else model
    d_train = DDP(disc) if info.enabled else disc
    g_fwd = torch.compile(g_train) if cfg.compile else g_train
    d_fwd = torch.compile(d_train) if cfg.compile else d_train  # the D step's forward
    d_judge = torch.compile(disc) if cfg.compile else disc  # the G step's (frozen, un-wrapped) judge
    if cfg.compile and vgg is not None:
        vgg.compile()
    policy = disc_augment.parse_policy(cfg.d_augment)
    lines = line_channels(cfg.model.modalities)
    logger = RunLogger(out, enabled=info.is_main, total=cfg.steps, start=start)
    expand = lambda p: expand_presence(p, cfg.model.modalities)  # noqa: E731

    dataset.to(device)  # small sets live on the device: a batch is one index op, no loader
    def indices_of(step: int) -> list[int]:
        return batch_indices(step, len(dataset), cfg.batch_size, info.rank, info.world_size, cfg.seed)

    prefetch = BatchPrefetcher(dataset, indices_of, cfg.steps)  # on-disk sets: read ahead on a thread
    pause = fault_injection.checkpoint_pause()  # None unless a kill test asked for one

    def get_batch(step: int) -> Batch:
        rng = step_generator(cfg.seed, step, info.rank)
        raw = augment(prefetch(step), cfg.model.modalities, rng, zoom_p=cfg.zoom_p, crisp_lines=cfg.crisp_lines)
        presence = drop_modalities(raw["presence"].cpu(), cfg.modality_dropout, rng, cfg.drop_all_modalities).to(device)
        pair = random_pairing(len(raw["domain"]), rng, raw["domain"]).to(device)  # cross-domain where the batch allows
        image, maps = raw["image"], raw["maps"]
        if step < cfg.half_res_steps:
            image, maps = half_resolution(image, maps, lines)
        b, _, h, w = image.shape
        view = style_view(image, rng) if cfg.style_view else None
        aug = [disc_augment.draw(policy, b, h, w, rng, cfg.d_augment_p, device) if policy else None for _ in "dg"]
        cl = lambda t: None if t is None else t.contiguous(memory_format=memory_format)  # noqa: E731
        return Batch(cl(image), cl(maps), presence, raw["domain"], pair, cl(view), *aug)

    # -- the loop -------------------------------------------------------------------------------
    skipped = 0
    loop_start = time.monotonic()
    deadline = loop_start + cfg.time_limit_min * 60 if cfg.time_limit_min else None
    train_seconds = lambda: seconds_before + time.monotonic() - loop_start  # noqa: E731  across resumes
    final = cfg.steps
    for step in range(start, cfg.steps):
        batch = get_batch(step)
        cond = batch.maps * expand(batch.presence)[:, :, None, None] if cfg.model.disc_conditional else None

        # One generator forward: [reconstructions; random pairs], kept attached for the G update.
        with autocast():
            rec, paired, paired_style = generate_pair(g_fwd, batch)

        # Discriminator: real vs reconstructions and random pairs.
        disc.requires_grad_(True)
        d_net = d_train if r1_due(cfg, step) else d_fwd  # R1's double backward: not through torch.compile
        d_loss, d_stats = d_step(d_net, batch, rec, paired, cond, cfg, step, autocast, lecam)
        ok = distributed.all_true(bool(torch.isfinite(d_loss)), info)  # one host sync per update
        d_norm = optimizer_step(opt_d, d_loss, disc.parameters(), cfg.grad_clip, ok)

        # Generator + encoders, judged by the (frozen, un-wrapped) discriminator.
        disc.requires_grad_(False)
        g_loss, g_stats, _ = g_step(d_judge, vgg, batch, rec, paired, cond, cfg, autocast, model.encode_style,
                                    paired_style, senses)  # fmt: skip
        ok_g = distributed.all_true(bool(torch.isfinite(g_loss)), info)
        g_norm = optimizer_step(opt_g, g_loss, model.parameters(), cfg.grad_clip, ok_g)
        if not (ok and ok_g):
            skipped += 1
            print(f"step {step}: non-finite loss (D {d_loss.item()}, G {g_loss.item()}); step skipped", flush=True)

        ema_update(ema, model, ema_decay_at(step, cfg.ema_decay, cfg.ema_start))

        done = step + 1
        # A wall-clock budget (a cluster slot, a rented machine): every rank stops at the same step.
        if deadline is not None and not distributed.all_true(time.monotonic() < deadline, info):
            final = done
        # Statistics stay on the device; the logger reads them on the host at log steps only.
        stats = {**d_stats, **g_stats, "d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "skipped": skipped,
                 **({"d_grad_norm": d_norm} if d_norm is not None else {}),
                 **({"g_grad_norm": g_norm} if g_norm is not None else {})}  # fmt: skip
        logger.step(done, stats, images=cfg.batch_size * info.world_size, log_now=done % cfg.log_every == 0)
        if info.is_main and (done % cfg.sample_every == 0 or done == final):
            logger.sample_grid(done, ema, batch, cfg.model)
        if info.is_main and (done % cfg.ckpt_every == 0 or done == final):
            state = {"model": model.state_dict(), "disc": disc.state_dict(), "ema": ema.state_dict(),
                     "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "config": cfg.to_dict(),
                     "torch_rng": torch.get_rng_state(), "train_seconds": train_seconds(),
                     **({"lecam": lecam.state_dict()} if lecam is not None else {}),
                     **({"started_from": started_from} if started_from else {})}  # fmt: skip
            checkpoint.save_state(out / "checkpoints", done, state, cfg.keep_last, pause)
        if done == final:
            if final < cfg.steps:
                print(f"time limit of {cfg.time_limit_min} min reached at step {done}", flush=True)
            break
    prefetch.close()

    sums = distributed.weights_checksum(model, info)
    if info.enabled and info.is_main:
        print(f"ranks in sync: {len(set(sums)) == 1} (weight checksums {sums})", flush=True)

    # -- export: the EMA model, with the style statistics of the training set -------------------
    export = out / "export"
    if info.is_main:
        fit_style_statistics(ema, dataset, device, autocast)
        meta = dataset_info(dataset, cfg.model.modalities).replace(
            steps=final, data=str(cfg.data), perceptual=vgg.mode if vgg is not None else "none",
            device=describe_device(device), world_size=info.world_size, batch_size=cfg.batch_size * info.world_size,
            training_minutes=round(train_seconds() / 60, 1), init_from=started_from or None)  # fmt: skip
        checkpoint.write_export(export, ema.cpu(), disc, cfg.export_dtype, meta)
        print(f"exported {export}", flush=True)
    logger.close()
    distributed.cleanup()
    return export


def half_resolution(image: torch.Tensor, maps: torch.Tensor, lines: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch at half resolution for the low-to-high schedule: images and area maps averaged,
    line maps max-pooled (an average would fade a 1-px line to a quarter of its value)."""
    pool = torch.nn.functional.avg_pool2d
    small = pool(maps, 2)
    if lines:
        idx = torch.tensor(lines, device=maps.device)
        small[:, idx] = torch.nn.functional.max_pool2d(maps[:, idx], 2)
    return pool(image, 2), small


def apply_optimiser_settings(cfg: TrainConfig, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer) -> None:
    """A loaded optimiser state carries the learning rates and betas it was saved with; a resumed
    run must train with the ones it was given."""
    for opt, lr in ((opt_g, cfg.lr_g), (opt_d, cfg.lr_d)):
        for group in opt.param_groups:
            group["lr"], group["betas"] = lr, (cfg.beta1, cfg.beta2)


def config_changes(saved: dict, now: dict, prefix: str = "") -> str:
    """'lr_g 0.0001 → 0.0002, steps 100 → 200' for the fields that differ ('' when none do)."""
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = config_changes(a, b, f"{prefix}{key}.")
            out += [inner] if inner else []
        elif a != b:
            out.append(f"{prefix}{key} {a!r} → {b!r}")
    return ", ".join(out)


def dataset_info(dataset: SenseDataset, modalities) -> CheckpointInfo:
    """What an export records about its training data: resolution, domains, the senses that made
    its maps and the modalities it really had."""
    seen = dataset.presence.bool().any(0).tolist()
    return CheckpointInfo(resolution=int(dataset[0]["image"].shape[-1]), domains=tuple(dataset.domains),
                          senses=dataset.providers(),
                          trained_modalities=tuple(m for m, s in zip(modalities, seen, strict=True) if s))  # fmt: skip


def describe_device(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        main()
    except (ConfigError, SampleError) as exc:  # a bad flag or YAML value; a sample damaged on disk mid-run
        raise SystemExit(f"training.train: error: {exc}") from None
