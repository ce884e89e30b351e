"""Untrusted files: checkpoints and configs from the internet can fail, but never run code,
never make us allocate what they merely declare, and always say what is wrong.

Sensorium.from_pretrained reads only config.json (size-capped JSON) and model.safetensors
(header checked against the config on the meta device before any weight is read). Training
states are covered in tests/test_training.py::test_pickle_checkpoint_is_refused.
"""

from __future__ import annotations

import json
import os
import resource
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from sensorium.config import ConfigError, ModelConfig, tiny_config
from sensorium.model import CheckpointError, Sensorium
from training.config import TrainConfig

CONFIG = tiny_config(modalities=("edges", "pose"))


class Evil:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def ckpt(tmp_path) -> Path:
    torch.manual_seed(0)
    return Sensorium(CONFIG).save_pretrained(tmp_path / "ckpt")


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- pickles are never opened -------------------------------------------------------------------
def test_pickle_files_are_never_unpickled(ckpt, tmp_path):
    marker = tmp_path / "pwned"
    bin_file = ckpt / "pytorch_model.bin"
    torch.save({"weight": Evil(marker)}, bin_file)
    with pytest.raises(CheckpointError, match="not found"):
        Sensorium.from_pretrained(bin_file)  # a .bin path is not a checkpoint folder

    (ckpt / "model.safetensors").unlink()  # a folder with only the pickle
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        Sensorium.from_pretrained(ckpt)

    torch.save({"weight": Evil(marker)}, ckpt / "model.safetensors")  # a pickle wearing the right name
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        Sensorium.from_pretrained(ckpt)
    assert not marker.exists()


# -- hostile safetensors headers ------------------------------------------------------------------
def raw_safetensors(header: object, data: bytes = b"", header_len: int | None = None) -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if header_len is None else header_len) + text + data


TB = 1 << 40
HOSTILE = {
    "header_length_2^62": raw_safetensors({}, header_len=1 << 62),
    "header_length_past_the_end": raw_safetensors({}, header_len=10_000),
    "header_not_json": raw_safetensors(b"{not json" + b" " * 8),
    "header_a_list": raw_safetensors([1, 2, 3]),
    "declares_4_tb_tensor": raw_safetensors({"w": {"dtype": "F32", "shape": [TB], "data_offsets": [0, 4 * TB]}}, bytes(16)),
    "shape_and_offsets_disagree": raw_safetensors({"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 16]}}, bytes(16)),
    "overlapping_tensors": raw_safetensors(
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
         "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, bytes(24)),
    "unknown_dtype": raw_safetensors({"w": {"dtype": "PICKLE", "shape": [4], "data_offsets": [0, 16]}}, bytes(16)),
    "negative_shape": raw_safetensors({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, bytes(16)),
    "empty_file": b"",
}  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_safetensors_headers_are_refused_without_allocating(ckpt, name):
    (ckpt / "model.safetensors").write_bytes(HOSTILE[name])
    before = max_rss_mb()
    with pytest.raises(CheckpointError, match="not a readable safetensors file") as err:
        Sensorium.from_pretrained(ckpt)
    assert "download or export it again" in str(err.value)
    assert max_rss_mb() - before < 200


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8, torch.bool])
def test_integer_or_bool_weights_are_refused_not_silently_cast(ckpt, dtype):
    # Pins a bug: load_state_dict copied int/bool tensors into the float weights without a word.
    state = load_file(ckpt / "model.safetensors")
    save_file({k: v.to(dtype) for k, v in state.items()}, ckpt / "model.safetensors")
    with pytest.raises(CheckpointError, match=f"stores .* as {str(dtype).split('.')[-1][:1].upper()}"):
        Sensorium.from_pretrained(ckpt)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_precisions_load_as_float32(ckpt, dtype):
    state = load_file(ckpt / "model.safetensors")
    save_file({k: v.to(dtype) for k, v in state.items()}, ckpt / "model.safetensors")
    model = Sensorium.from_pretrained(ckpt)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_wrong_shape_is_named(ckpt):
    state = load_file(ckpt / "model.safetensors")
    state["generator.to_rgb.weight"] = torch.zeros(1)
    save_file(state, ckpt / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"wrong shape: generator.to_rgb.weight is \[1\]"):
        Sensorium.from_pretrained(ckpt)


def test_a_config_asking_for_a_huge_network_fails_before_allocating(ckpt):
    # 65536 channels: ~150 GB per convolution. Checked against the real (tiny) weights on the meta
    # device, so the mismatch is found without allocating.
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["model"].update(channels=1 << 16, max_channels=1 << 16)
    (ckpt / "config.json").write_text(json.dumps(cfg))
    before = max_rss_mb()
    with pytest.raises(CheckpointError, match="does not match its config|wrong shape"):
        Sensorium.from_pretrained(ckpt)
    assert max_rss_mb() - before < 200


# -- config.json: types, ranges, unknown fields, broken JSON -----------------------------------
BAD_CONFIGS = [
    ('{"model": {"style_dim": "16"}}', "style_dim must be a positive integer, got '16'"),
    ('{"model": {"channels": 8.5}}', "channels must be a positive integer, got 8.5"),
    ('{"model": {"num_domains": true}}', "num_domains must be a positive integer, got True"),
    ('{"model": {"style_dim": 1e999}}', "style_dim must be a positive integer, got inf"),
    ('{"model": {"num_scales": 0}}', "num_scales must be a positive integer"),
    ('{"model": {"num_scales": 9}}', "num_scales must be <= 8"),
    ('{"model": {"use_fusion": "false"}}', "use_fusion must be true or false"),
    ('{"model": {"modulation": "film"}}', "modulation must be"),
    ('{"model": {"modalities": "edges"}}', "modalities must be a list of modality names"),
    ('{"model": {"modalities": [["edges"]]}}', "modalities must be a list of modality names"),
    ('{"model": {"modalities": 5}}', "modalities must be a list of modality names"),
    ('{"model": {"modalities": []}}', "at least one modality"),
    ('{"model": {"modalities": ["edges", "edges"]}}', "must not repeat"),
    ('{"model": {"modalities": ["smell"]}}', "unknown modalities"),
    ('{"model": {"widht": 3}}', r"unknown config fields \['widht'\]"),
    ('{"model": {"config_version": "1"}}', "config_version must be an integer"),
    ('{"model": {"config_version": 99}}', "upgrade"),
    ('{"model": "edges"}', "must be a JSON object"),
    ('{"modle": {}}', "expected a JSON object"),
    ('{"model": {}, "metadata": [1]}', "expected a JSON object"),
    ("[1, 2]", "expected a JSON object"),
    ("NaN", "expected a JSON object"),
    ('{"model": {', "Expecting"),
    ("[" * 100_000, "not a valid Sensorium config"),  # recursion, not a crash
    (b"\xff\xfe\x00binary", "can't decode"),
    ('{"model": {}}' + " " * (2 << 20), "a few KB"),  # 2 MB: not even parsed
]


@pytest.mark.parametrize("text, message", BAD_CONFIGS, ids=range(len(BAD_CONFIGS)))
def test_bad_config_json_is_a_clear_checkpoint_error(ckpt, text, message):
    path = ckpt / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(CheckpointError, match=message) as err:
        Sensorium.from_pretrained(ckpt)
    assert str(path) in str(err.value)


def test_model_config_raises_only_config_errors():
    for bad in (dict(modalities=5), dict(modalities=("edges", None)), dict(channels="8"), dict(use_skips=1)):
        with pytest.raises(ConfigError):
            ModelConfig(**bad)
    with pytest.raises(ConfigError, match="JSON object"):
        ModelConfig.from_dict(["edges"])


def test_training_config_ranges_choices_and_unknown_fields_are_config_errors():
    for bad, message in ((dict(steps=0), "steps must be >= 1"), (dict(modality_dropout=2), "modality_dropout"),
                         (dict(precision="fp8"), "precision must be one of"), (dict(lr_g=-1), "lr_g must be >= 0"),
                         (dict(model={"channels": "8"}), "channels must be a positive integer")):  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            TrainConfig(**bad)
    with pytest.raises(ConfigError, match=r"unknown training config fields \['stpes'\]"):
        TrainConfig.from_dict({"stpes": 3})


# Regression: training/config.py checked ranges but not types, so a YAML string for a number failed
# with a TypeError from `<` instead of a ConfigError naming the field.
@pytest.mark.parametrize("bad", [dict(steps="100"), dict(lr_g="1e-4")])
def test_training_config_wrong_types_from_yaml_are_config_errors(bad):
    with pytest.raises(ConfigError, match=f"{next(iter(bad))} must be of type"):
        TrainConfig(**bad)


def test_an_export_folder_is_replaced_whole_or_not_at_all(tmp_path):
    """atomic_dir (train.py's and export_state's exports): a failure inside leaves the old folder as
    it was and no temporary one; a clean exit swaps the new folder in, with no file of the old left."""
    from sensorium.atomic import atomic_dir, finish_swap

    export = tmp_path / "export"
    export.mkdir()
    (export / "model.safetensors").write_text("old")
    (export / "stale.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(export) as folder:
        (folder / "model.safetensors").write_text("half")
        raise RuntimeError("killed between the weights and the config")
    assert sorted(p.name for p in export.iterdir()) == ["model.safetensors", "stale.txt"]
    assert (export / "model.safetensors").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["export"]
    with atomic_dir(export) as folder:
        (folder / "model.safetensors").write_text("new")
        (folder / "config.json").write_text("{}")
    assert sorted(p.name for p in export.iterdir()) == ["config.json", "model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
    # A kill between the two renames: no export/, the old one and the whole new one under hidden names.
    export.rename(tmp_path / ".export.old-abc")
    (tmp_path / ".export.tmp-abc").mkdir()
    (tmp_path / ".export.tmp-abc" / "model.safetensors").write_text("newer")
    assert finish_swap(export) == export and (export / "model.safetensors").read_text() == "newer"
    assert [p.name for p in tmp_path.iterdir()] == ["export"] and finish_swap(export) is None
    export.rename(tmp_path / ".export.old-def")  # the new one gone too: the old one comes back, at the next export
    with atomic_dir(export) as folder:
        assert (export / "model.safetensors").read_text() == "newer"
        (folder / "model.safetensors").write_text("newest")
    assert (export / "model.safetensors").read_text() == "newest" and [p.name for p in tmp_path.iterdir()] == ["export"]
