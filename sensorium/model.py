"""Sensorium: content encoder + style encoder + generator, with save_pretrained/from_pretrained.

The export is a folder (local or a Hugging Face Hub repo) holding `config.json` and
`model.safetensors`; loading is strict and never unpickles anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import write_atomic
from .checkpoint_info import CheckpointInfo
from .conditioning import expand_presence
from .config import ConfigError, ModelConfig
from .encoders import ContentEncoder, StyleEncoder
from .generator import Generator

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or does not match this model; the message says which."""


class Sensorium(nn.Module):
    """Reference-guided translation from sense maps (content) and a style image.

    maps: (B, C, H, W) stacked sense maps in [0, 1] (see `conditioning.stack_maps`);
    presence: (B, M) 1 where a modality is given; style images and outputs in [-1, 1].
    H and W must be multiples of `config.stride`.
    """

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        in_channels = config.map_channels + len(config.modalities)
        self.content_encoder = ContentEncoder(in_channels, config.channels, config.max_channels, config.num_scales)
        self.style_encoder = StyleEncoder(config.style_channels, config.max_channels, config.num_scales,
                                          config.style_dim, config.num_domains)  # fmt: skip
        self.generator = Generator(config)
        # Per-domain Gaussian fitted to training styles, for sampling random styles.
        self.register_buffer("style_mean", torch.zeros(config.num_domains, config.style_dim))
        identity = torch.zeros(config.num_domains, config.style_dim, config.style_dim)
        identity.diagonal(dim1=1, dim2=2).fill_(1.0)  # not torch.eye: on the meta device that imports torch._dynamo
        self.register_buffer("style_scale_tril", identity)
        self.info = CheckpointInfo()  # how the weights were made; from_pretrained reads it from config.json

    # -- the three steps --------------------------------------------------------------------
    def encode_style(self, image: torch.Tensor, domain: torch.Tensor | None = None) -> torch.Tensor:
        """image (B, 3, H, W) in [-1, 1] → style (B, style_dim)."""
        return self.style_encoder(image, domain)

    def encode_content(self, maps: torch.Tensor, presence: torch.Tensor) -> list[torch.Tensor]:
        """maps (B, C, H, W), presence (B, M) → content pyramid [f_0 … f_N]."""
        cfg = self.config
        b, c, h, w = maps.shape
        assert c == cfg.map_channels, f"maps have {c} channels, config expects {cfg.map_channels}"
        assert presence.shape == (b, len(cfg.modalities)), f"presence {tuple(presence.shape)}"
        if h % cfg.stride or w % cfg.stride:
            raise ValueError(f"image size {h}x{w} must be a multiple of {cfg.stride}")
        presence = presence.to(maps.dtype)
        masked = maps * expand_presence(presence, cfg.modalities)[:, :, None, None]
        planes = presence[:, :, None, None].expand(-1, -1, h, w)
        return self.content_encoder(torch.cat([masked, planes], dim=1))

    def generate(self, content: list[torch.Tensor], style: torch.Tensor) -> torch.Tensor:
        """content pyramid + style (B, S) → image (B, 3, H, W) in [-1, 1]."""
        return self.generator(content, style)

    def forward(self, maps: torch.Tensor, presence: torch.Tensor, style_image: torch.Tensor,
                domain: torch.Tensor | None = None, return_style: bool = False):  # fmt: skip
        """→ image; with `return_style`, (image, style codes): training's style-reconstruction
        loss needs the codes of the very forward that DDP saw."""
        style = self.encode_style(style_image, domain)
        image = self.generate(self.encode_content(maps, presence), style)
        return (image, style) if return_style else image

    # -- styles -------------------------------------------------------------------------------
    @torch.no_grad()
    def fit_style_statistics(self, styles: torch.Tensor, domain: int = 0) -> None:
        """Fit the Gaussian that `sample_styles` draws from to styles (N, S) of training images."""
        styles = styles.double()
        mean = styles.mean(0)
        cov = torch.cov(styles.t()) if styles.shape[0] > 1 else torch.zeros(styles.shape[1], styles.shape[1])
        cov = cov + 1e-4 * torch.eye(cov.shape[0], dtype=cov.dtype)  # small data: keep it positive definite
        self.style_mean[domain] = mean.to(self.style_mean)
        self.style_scale_tril[domain] = torch.linalg.cholesky(cov).to(self.style_scale_tril)

    def sample_styles(self, n: int, domain: int = 0, generator: torch.Generator | None = None,
                      temperature: float = 1.0) -> torch.Tensor:  # fmt: skip
        """n random style vectors (n, S) from the fitted per-domain Gaussian."""
        device = self.style_mean.device
        eps = torch.randn(n, self.config.style_dim, generator=generator, device="cpu").to(device)
        return self.style_mean[domain] + temperature * eps @ self.style_scale_tril[domain].t()

    # -- persistence ----------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, dtype: torch.dtype | None = None,
                        metadata: CheckpointInfo | dict[str, Any] | None = None) -> Path:  # fmt: skip
        """Write config.json + model.safetensors (optionally cast, e.g. fp16 to halve the size);
        `metadata` (default: this model's `info`) goes into config.json's "metadata"."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_weights(self, directory / WEIGHTS_NAME, dtype)
        info = metadata if isinstance(metadata, CheckpointInfo) else CheckpointInfo.from_dict(metadata) \
            if metadata is not None else self.info  # fmt: skip
        meta = info.to_dict()
        payload = {"model": self.config.to_dict(), **({"metadata": meta} if meta else {})}
        write_atomic(directory / CONFIG_NAME, json.dumps(payload, indent=2).encode())
        return directory

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, device: str | torch.device = "cpu",
                        revision: str | None = None, local_files_only: bool = False) -> Sensorium:  # fmt: skip
        """Load from a local folder or a Hub repo id; strict: every key must match."""
        config_file, weights_file = _resolve_files(str(name_or_path), revision, local_files_only)
        config, metadata = read_config(config_file)
        with torch.device("meta"):  # shapes only: a hostile config.json cannot make us allocate
            model = cls(config)  # and no random init that the weights would overwrite
        _check_header(weights_file, model.state_dict())  # keys, shapes and dtypes, before any weight is read
        try:
            from safetensors.torch import load_file

            state = load_file(str(weights_file))
        except Exception as exc:
            raise _unreadable(weights_file, exc) from exc
        # a fresh tensor each (fp32), as load_state_dict's copy into the module gave: the file's tensors
        # are views into one buffer, and convs over them differ from the saved model's in the last bit
        state = {k: v.to(torch.float32 if v.is_floating_point() else v.dtype, copy=True) for k, v in state.items()}
        try:
            model.load_state_dict(state, strict=True, assign=True)  # the file's tensors replace the meta ones
        except RuntimeError as exc:
            raise CheckpointError(f"{weights_file} has tensors of the wrong shape: {exc}") from exc
        # strict loading fills every parameter and buffer: all of them are in the state dict
        assert not any(t.is_meta for t in (*model.parameters(), *model.buffers())), "a tensor was left unloaded"
        model.info = CheckpointInfo.from_dict(metadata)
        return model.to(device).eval()


def _unreadable(weights_file: Path, exc: Exception) -> CheckpointError:
    return CheckpointError(f"{weights_file} is not a readable safetensors file ({exc}); "
                           "it may be truncated or corrupt: download or export it again")  # fmt: skip


def _check_header(weights_file: Path, expected: dict[str, torch.Tensor]) -> None:
    """Compare the safetensors header (names, dtypes, shapes) with the model the config describes.

    Only the header is read, so a file that declares absurd sizes, or a config that asks for a
    huge network, fails here without allocating anything. int/bool tensors are refused where the
    model has float weights (load_state_dict would silently cast them).
    """
    from safetensors import safe_open

    try:
        with safe_open(str(weights_file), framework="pt") as f:
            slices = {k: f.get_slice(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
            header = {k: (s.get_dtype(), tuple(s.get_shape())) for k, s in slices.items()}
    except Exception as exc:
        raise _unreadable(weights_file, exc) from exc
    missing, unexpected = set(expected) - set(header), set(header) - set(expected)
    if missing or unexpected:
        raise CheckpointError(
            f"{weights_file} does not match its config: missing keys {sorted(missing)[:5]}"
            f"{'…' if len(missing) > 5 else ''}, unexpected keys {sorted(unexpected)[:5]}"
        )
    for k, (dtype, shape) in sorted(header.items()):
        if shape != tuple(expected[k].shape):
            raise CheckpointError(f"{weights_file} has tensors of the wrong shape: {k} is {list(shape)}, "
                                  f"the config needs {list(expected[k].shape)}")  # fmt: skip
        if dtype.startswith(("F", "BF")) != expected[k].is_floating_point():
            raise CheckpointError(f"{weights_file} stores {k} as {dtype}, expected {expected[k].dtype}")


MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few KB; refuse to parse anything huge


def save_weights(module: nn.Module, path: Path, dtype: torch.dtype | None = None) -> None:
    """A module's state dict as safetensors (floating tensors optionally cast, e.g. fp16 to halve
    the size), written to a temp file and renamed: a killed save never leaves half a file."""
    from safetensors.torch import save_file

    state = {k: (v.to(dtype) if dtype and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in module.state_dict().items()}  # fmt: skip
    write_atomic(path, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))


def read_config(path: Path) -> tuple[ModelConfig, dict[str, Any]]:
    size = Path(path).stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path} is {size} bytes; a Sensorium config.json is a few KB")
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(payload, dict) or "model" not in payload or not isinstance(payload.get("metadata", {}), dict):
            raise ConfigError('expected a JSON object {"model": {...}, "metadata": {...}}')
        return ModelConfig.from_dict(payload["model"]), payload.get("metadata", {})
    # ValueError covers JSONDecodeError, UnicodeDecodeError (a binary file) and ConfigError.
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CheckpointError(f"{path} is not a valid Sensorium config: {exc}") from exc


def _resolve_files(name: str, revision: str | None, local_files_only: bool) -> tuple[Path, Path]:
    path = Path(name)
    if path.is_dir():
        files = path / CONFIG_NAME, path / WEIGHTS_NAME
        for f in files:
            if not f.is_file():
                raise CheckpointError(f"{path} has no {f.name}: not a Sensorium checkpoint folder")
        return files
    if path.suffix or name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise CheckpointError(f"checkpoint {name!r} not found: give a folder with {CONFIG_NAME} and "
                              f"{WEIGHTS_NAME}, or a Hugging Face Hub repo id like 'user/model'")  # fmt: skip
    from huggingface_hub import hf_hub_download

    try:
        return tuple(Path(hf_hub_download(name, f, revision=revision, local_files_only=local_files_only))
                     for f in (CONFIG_NAME, WEIGHTS_NAME))  # fmt: skip
    except Exception as exc:
        raise CheckpointError(f"could not get checkpoint {name!r} from the Hugging Face Hub "
                              f"({type(exc).__name__}); check the id and your connection, or pass a "
                              "local folder") from exc  # fmt: skip
