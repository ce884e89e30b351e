"""Model configuration: one frozen dataclass that is the whole contract of a checkpoint.

Saved as `config.json` next to `model.safetensors`; field names are forever once checkpoints ship,
so the surface stays small. Overrides go through `dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

from .modalities import DEFAULT_MODALITIES, MODALITIES

CONFIG_VERSION = 1
DEFAULT_RESOLUTION = 256  # the output's long side when a caller gives none (pipeline, CLI, video)

Modulation = Literal["demod", "adain", "none"]


class ConfigError(ValueError):
    """A config value is invalid; the message names the field and the allowed values."""


@dataclass(frozen=True)
class ModelConfig:
    modalities: tuple[str, ...] = DEFAULT_MODALITIES  # conditioning slots, in input-channel order
    style_dim: int = 256  # length of the global style vector
    num_domains: int = 1  # style encoder heads / discriminator outputs (one per domain)
    channels: int = 64  # width at full resolution; doubles per scale up to max_channels
    max_channels: int = 512  # width cap at coarse scales
    num_scales: int = 5  # content-pyramid depth: resolution must be a multiple of 2**num_scales
    style_channels: int = 32  # width at full resolution inside the style encoder
    fusion_style_dim: int = 32  # style is projected to this many channels before spatial tiling
    fusion_hidden: int = 64  # hidden width of each fusion convnet (cost is at full resolution)
    modulation: Modulation = "demod"  # "demod": StyleGAN2 weight demodulation; "adain"; "none"
    use_fusion: bool = True  # False: SPADE gets content features only (no tiled style)
    use_skips: bool = True  # False: no U-Net skips from the content pyramid
    disc_channels: int = 64  # width of the first discriminator layer
    disc_scales: int = 2  # number of discriminator scales (images downsampled by 2 each)
    disc_layers: int = 4  # conv layers per discriminator scale
    disc_conditional: bool = True  # the discriminator also sees the content maps (SPADE-style)

    def __post_init__(self) -> None:
        if isinstance(self.modalities, list):  # from JSON
            object.__setattr__(self, "modalities", tuple(self.modalities))
        # A bare string would be split into letters; a number or nested list would crash below.
        if not isinstance(self.modalities, tuple) or not all(isinstance(m, str) for m in self.modalities):
            raise ConfigError(f"modalities must be a list of modality names, got {self.modalities!r}")
        unknown = [m for m in self.modalities if m not in MODALITIES]
        if unknown:
            raise ConfigError(f"unknown modalities {unknown}; choose from {sorted(MODALITIES)}")
        if len(set(self.modalities)) != len(self.modalities):
            raise ConfigError(f"modalities must not repeat: {list(self.modalities)}")
        for name in ("style_dim", "num_domains", "channels", "max_channels", "num_scales",
                     "style_channels", "fusion_style_dim", "fusion_hidden", "disc_channels",
                     "disc_scales", "disc_layers"):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not self.modalities:
            raise ConfigError("a model needs at least one modality")
        if self.num_scales > 8:
            raise ConfigError(f"num_scales must be <= 8, got {self.num_scales}")
        if self.modulation not in ("demod", "adain", "none"):
            raise ConfigError(f"modulation must be 'demod', 'adain' or 'none', got {self.modulation!r}")
        for name in ("use_fusion", "use_skips", "disc_conditional"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")

    @property
    def stride(self) -> int:
        """Image sides must be a multiple of this."""
        return 2**self.num_scales

    @property
    def min_resolution(self) -> int:
        """The smallest output long side: the coarsest level needs two pixels for its instance norm."""
        return 2 * self.stride

    @property
    def map_channels(self) -> int:
        return sum(MODALITIES[m].channels for m in self.modalities)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["modalities"] = list(self.modalities)
        return {"config_version": CONFIG_VERSION, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"a model config must be a JSON object of fields, got {type(d).__name__}")
        d = dict(d)
        version = d.pop("config_version", CONFIG_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ConfigError(f"config_version must be an integer, got {version!r}")
        if version > CONFIG_VERSION:
            raise ConfigError(
                f"this checkpoint needs config version {version}; this sensorium reads up to "
                f"{CONFIG_VERSION}: please upgrade the package"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise ConfigError(f"unknown config fields {extra}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def demo(cls, **overrides: Any) -> ModelConfig:
        """The bundled demo checkpoint's architecture: 16 channels wide, 3.45 M parameters, fast
        enough for two CPU cores (training/configs/demo.yaml spells out the same fields)."""
        return cls(**{**DEMO_ARCHITECTURE, **overrides})


# The demo architecture's fields that differ from ModelConfig(): the one place they are written.
DEMO_ARCHITECTURE: dict[str, Any] = dict(channels=16, max_channels=128, fusion_hidden=16, style_channels=16,
                                         fusion_style_dim=16, style_dim=64)  # fmt: skip


def demo_flags() -> list[str]:
    """The demo architecture as training flags (`--model.channels 16 …`)."""
    return [arg for k, v in DEMO_ARCHITECTURE.items() for arg in (f"--model.{k}", str(v))]


def tiny_config(**overrides: Any) -> ModelConfig:
    """A few-thousand-parameter model for tests and smoke runs (resolution multiple of 8)."""
    base = dict(style_dim=16, channels=8, max_channels=32, num_scales=3, style_channels=8,
                fusion_style_dim=8, fusion_hidden=8, disc_channels=8, disc_scales=2, disc_layers=3)  # fmt: skip
    base.update(overrides)
    return ModelConfig(**base)


