"""Training configuration: a frozen dataclass, an optional YAML base, CLI overrides generated
from the fields (`--steps 1000 --model.channels 32`), all validated in `__post_init__`.
The resolved config is written to the run dir and stored in every checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sensorium.config import ConfigError, ModelConfig
from sensorium.env import truthy


@dataclass(frozen=True)
class TrainConfig:
    data: str = "data/prepared"  # folder of prepared .npz samples (training/prepare.py)
    out: str = "runs/sensorium"  # run dir: checkpoints, logs, samples, export
    model: ModelConfig = field(default_factory=ModelConfig)  # network architecture
    steps: int = 100_000  # total optimisation steps
    batch_size: int = 16  # per process
    lr_g: float = 1e-4  # generator + encoders (SPADE's TTUR: D learns 4x faster)
    lr_d: float = 4e-4  # discriminator
    beta1: float = 0.0  # Adam betas as in SPADE
    beta2: float = 0.9
    lambda_vgg: float = 10.0  # VGG19 feature L1 (SPADE / pix2pixHD weight)
    lambda_fm: float = 10.0  # discriminator feature matching L1
    lambda_gan: float = 1.0  # hinge GAN, for reconstructions and random (content, style) pairs
    lambda_l1: float = 0.0  # optional pixel L1 on reconstructions (helps tiny offline runs)
    perceptual: Literal["auto", "imagenet", "random", "random-legacy", "mediapipe", "none"] = "auto"  # auto: imagenet if present, else random (logged); mediapipe: sense-network features
    modality_dropout: float = 0.3  # probability of dropping each modality per sample
    drop_all_modalities: float = 0.0  # probability of dropping every modality of a sample (trains style-only output)
    d_augment: str = ""  # DiffAugment policy for every D input, e.g. "translation,cutout,color" ("" = off)
    d_augment_p: float = 1.0  # probability of each augmentation op per sample
    style_view: bool = False  # the style encoder reads its own flip/crop of the image, not the target view
    lambda_style: float = 0.0  # style reconstruction |E_s(G(c, s)) - s|_1 on random pairs (StarGAN v2)
    lambda_sense_person: float = 0.0  # sense consistency: selfie net on G's output vs the content's person map
    lambda_sense_landmarks: float = 0.0  # sense consistency: face-mesh net on G's face crop vs the real image's mesh
    sense_samples: int = 0  # samples per group (reconstructions, random pairs) the sense terms see; 0 = all
    zoom_p: float = 1.0  # share of samples that get the random zoom-crop (the rest are only flipped)
    crisp_lines: bool = False  # resample line maps (pose, landmarks, edges) with nearest, not bilinear
    r1_gamma: float = 0.0  # R1 penalty weight on real images (0 = off)
    r1_every: int = 16  # lazy R1 interval
    lambda_lecam: float = 0.0  # LeCam regularisation of D (Tseng et al. 2021; 0 = off)
    half_res_steps: int = 0  # train the first N steps at half resolution (a cheap low-to-high schedule)
    grad_clip: float = 10.0  # max grad norm for G and D (0 = off)
    ema_decay: float = 0.999  # EMA of generator + encoders for sampling and export
    ema_start: int = 0  # EMA copies the weights until this step
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 on CUDA, fp32 on CPU
    channels_last: bool = True  # on CUDA only
    compile: bool = False  # torch.compile G, D and the perceptual net (an R1 step runs D uncompiled)
    seed: int = 0
    num_workers: int = 0  # threads decoding an on-disk set's batches (0 = min(8, CPUs))
    data_placement: Literal["auto", "memory", "disk"] = "auto"  # auto: in (GPU) memory up to 4 GiB decoded
    log_every: int = 50
    sample_every: int = 1000
    ckpt_every: int = 1000
    keep_last: int = 3  # training-state checkpoints kept on disk
    export_dtype: Literal["float32", "float16"] = "float32"
    time_limit_min: float = 0.0  # stop (checkpoint + export) after this many minutes; 0 = no limit
    init_from: str = ""  # warm start from an export (folder or Hub id); its architecture is the default

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ModelConfig.from_dict(self.model))
        check_types(self)
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # YAML's `beta1: 0` is an int: store the float Adam needs
            if hints[f.name] is float:
                object.__setattr__(self, f.name, float(getattr(self, f.name)))
        for name in ("steps", "batch_size", "log_every", "sample_every", "ckpt_every", "keep_last", "r1_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("modality_dropout", "drop_all_modalities", "d_augment_p", "zoom_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            raise ConfigError(f"beta1 and beta2 must be in [0, 1), got {self.beta1}, {self.beta2}")
        if self.sense_samples < 0:
            raise ConfigError(f"sense_samples must be >= 0, got {self.sense_samples}")
        if self.half_res_steps < 0:
            raise ConfigError(f"half_res_steps must be >= 0, got {self.half_res_steps}")
        from .disc_augment import parse_policy

        try:
            parse_policy(self.d_augment)
        except ValueError as exc:
            raise ConfigError(f"d_augment: {exc}") from exc
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        for name in ("lr_g", "lr_d", "lambda_vgg", "lambda_fm", "lambda_gan", "lambda_l1", "lambda_style",
                     "lambda_lecam", "r1_gamma", "grad_clip",
                     "lambda_sense_person", "lambda_sense_landmarks"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        hints = typing.get_type_hints(type(self))
        for name in ("perceptual", "precision", "export_dtype"):  # the allowed values are the Literal's
            allowed = typing.get_args(hints[name])
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise ConfigError(f"unknown training config fields {extra}")
        return cls(**d)


def check_types(cfg: TrainConfig) -> None:
    """YAML gives strings as easily as numbers: say which field has the wrong type, clearly."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value, tp = getattr(cfg, f.name), hints[f.name]
        if typing.get_origin(tp) is Literal:
            ok = isinstance(value, str)  # the allowed values are checked, with the list, in __post_init__
        elif tp is bool:
            ok = isinstance(value, bool)
        elif tp is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif tp is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif tp is str:
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, ModelConfig) if tp is ModelConfig else True
        if not ok:
            raise ConfigError(f"{f.name} must be of type {getattr(tp, '__name__', 'str')}, got {value!r}")


def _arg_type(tp: Any) -> tuple[Any, dict[str, Any]]:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return str, {"choices": list(typing.get_args(tp))}
    if tp is bool:
        return truthy, {"metavar": "BOOL"}
    if origin is tuple:
        return lambda s: tuple(x for x in s.split(",") if x), {"metavar": "A,B,…"}
    return tp, {}


def build_parser() -> argparse.ArgumentParser:
    """One flag per field of TrainConfig and ModelConfig (as --model.NAME); defaults stay None so
    only what the person typed overrides the YAML base."""
    parser = argparse.ArgumentParser(description="Train Sensorium", argument_default=argparse.SUPPRESS)
    parser.add_argument("--config", help="YAML file with a base config (CLI flags override it)")
    parser.add_argument("--resume", help="'latest' or a checkpoint path to continue from")
    for prefix, cls in (("", TrainConfig), ("model.", ModelConfig)):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name == "model":
                continue
            conv, extra = _arg_type(hints[f.name])
            # Dashes like every other CLI here (--init-from); the field's own name (--init_from,
            # as in the YAML) works too.
            names = dict.fromkeys([f"--{prefix}{f.name.replace('_', '-')}", f"--{prefix}{f.name}"])
            parser.add_argument(*names, dest=f"{prefix}{f.name}", type=conv, **extra)
    return parser


RUN_CONFIG = "train_config.json"  # the resolved config, written into the run dir at every start


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    """The config a run to be resumed was started with: its run dir's RUN_CONFIG (the dir of --out,
    else the one holding the --resume file's checkpoints/ folder); {} when there is none."""
    import json

    resume = Path(args.resume)
    runs = [Path(args.out)] if hasattr(args, "out") else [] if args.resume != "latest" else [Path(TrainConfig.out)]
    if args.resume != "latest":
        runs.append(resume.parent.parent)  # a fork into a new --out starts from the resumed run's config
    saved = next((r / RUN_CONFIG for r in runs if (r / RUN_CONFIG).is_file()), None)
    if saved is None:
        return {}
    run = saved.parent
    try:
        base = json.loads(saved.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{saved} is not readable JSON ({exc}); give the run's flags or --config") from None
    if not isinstance(base, dict):
        raise ConfigError(f"{saved} holds no config object; give the run's flags or --config")
    print(f"resume: the config of {saved}, with the flags given here on top", flush=True)
    if not hasattr(args, "out"):
        base["out"] = str(run)
    return base


def config_from_args(argv: list[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    """The run's config: a base (the YAML of --config; for a --resume without one, the config the run
    was started with, so `--out DIR --resume latest` continues that run), then the flags typed."""
    args = parser_args = build_parser().parse_args(argv)
    base: dict[str, Any] = {}
    if getattr(args, "config", None):
        import yaml

        if not Path(args.config).is_file():
            raise ConfigError(f"--config {args.config}: no such file")
        base = yaml.safe_load(Path(args.config).read_text()) or {}
        if not isinstance(base, dict):
            raise ConfigError(f"--config {args.config}: a YAML mapping of fields is expected, got {type(base).__name__}")
    elif getattr(args, "resume", None):
        base = run_config(args)
    from_run = bool(base) and not getattr(args, "config", None)  # its model dict is whole already
    model = dict(base.pop("model", {}) or {})
    for key, value in vars(args).items():
        if key in ("config", "resume"):
            continue
        if key.startswith("model."):
            model[key[6:]] = value
        else:
            base[key] = value
    if base.get("init_from") and not from_run:  # the export's architecture, under any --model.* flags
        from .warm_start import model_config

        return TrainConfig.from_dict({**base, "model": model_config(base["init_from"], model)}), parser_args
    return TrainConfig.from_dict({**base, "model": ModelConfig.from_dict(model)}), parser_args
