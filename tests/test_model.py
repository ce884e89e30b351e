"""Behaviour of the whole model: style and content really steer the output, every part learns,
any resolution / modality subset runs, and checkpoints round-trip exactly or fail clearly."""

import itertools
import json
from pathlib import Path

import pytest
import torch

from sensorium.conditioning import stack_maps
from sensorium.config import ConfigError, ModelConfig, tiny_config
from sensorium.discriminator import MultiscaleDiscriminator
from sensorium.losses import d_hinge, feature_matching, g_hinge
from sensorium.model import CheckpointError, Sensorium


def inputs(cfg, b=2, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    maps = torch.rand(b, cfg.map_channels, h, w, generator=g)
    presence = torch.ones(b, len(cfg.modalities))
    style_img = torch.rand(b, 3, h, w, generator=g) * 2 - 1
    return maps, presence, style_img


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = Sensorium(tiny_config()).eval()
    # Fresh fusion/modulation layers start as identity; perturb them so style paths are active.
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "to_gamma" in name or "to_beta" in name or "affine.weight" in name:
                p.normal_(0, 0.1)
    return m


def test_style_changes_output_and_same_style_is_deterministic(model):
    maps, presence, _ = inputs(model.config, b=1)
    content = model.encode_content(maps, presence)
    s1, s2 = torch.randn(1, 16), torch.randn(1, 16)
    a, b = model.generate(content, s1), model.generate(content, s2)
    assert (a - b).abs().mean() > 1e-3
    assert torch.equal(model.generate(content, s1), a)
    assert a.min() >= -1 and a.max() <= 1


def test_batch_of_different_styles_equals_separate_calls(model):
    maps, presence, style_img = inputs(model.config, b=2)
    together = model(maps, presence, style_img)
    apart = torch.cat([model(maps[i : i + 1], presence[i : i + 1], style_img[i : i + 1]) for i in range(2)])
    assert torch.allclose(together, apart, atol=1e-5)


def test_content_edit_changes_output_mostly_where_content_changed(model):
    cfg = model.config
    maps, presence, style_img = inputs(cfg, b=1, h=64, w=64)
    edited = maps.clone()
    edited[:, :, :16, :16] = 1 - edited[:, :, :16, :16]  # change the top-left corner only
    diff = (model(maps, presence, style_img) - model(edited, presence, style_img)).abs().mean(1)[0]
    near, far = diff[:16, :16].mean(), diff[40:, 40:].mean()
    assert near > 3 * far, (near, far)


def test_gradients_reach_every_parameter_of_generator_encoders_and_discriminator():
    torch.manual_seed(0)
    cfg = tiny_config()
    model = Sensorium(cfg)
    disc = MultiscaleDiscriminator(3, cfg.map_channels, cfg.disc_channels, cfg.disc_layers, cfg.disc_scales)
    opt = torch.optim.SGD([*model.parameters(), *disc.parameters()], lr=0.1)
    maps, presence, style_img = inputs(cfg)

    def step():
        fake = model(maps, presence, style_img)
        fake_out, real_out = disc(fake, maps), disc(style_img, maps)
        g = g_hinge([f[-1] for f in fake_out])[0] + feature_matching(real_out, fake_out)[0]
        g = g + (fake - style_img).abs().mean()
        g_grads = torch.autograd.grad(g, list(model.parameters()), allow_unused=True)
        d = d_hinge([r[-1] for r in real_out], [f[-1] for f in disc(fake.detach(), maps)])[0]
        d_grads = torch.autograd.grad(d, list(disc.parameters()), allow_unused=True)
        return g_grads, d_grads

    # Zero-initialised residual branches (SPADE gamma/beta) block gradients to their inputs at
    # step 0 by design, and the hinge loss gives D's last bias no gradient while every logit sits
    # inside the margin; over a few steps every parameter must receive gradient.
    named = [*model.named_parameters(prefix="G"), *disc.named_parameters(prefix="D")]
    reached = set()
    for _ in range(4):
        g_grads, d_grads = step()
        for (name, p), grad in zip(named, [*g_grads, *d_grads], strict=True):
            p.grad = grad
            if grad is not None and grad.abs().sum() > 0:
                reached.add(name)
        opt.step()
    dead = [n for n, _ in named if n not in reached]
    assert not dead, dead


@pytest.mark.parametrize("h,w", [(128, 128), (256, 256), (512, 512), (64, 96)])
def test_any_multiple_of_the_stride_runs(h, w):
    model = Sensorium(tiny_config()).eval()
    maps, presence, style_img = inputs(model.config, b=1, h=h, w=w)
    with torch.no_grad():
        assert model(maps, presence, style_img).shape == (1, 3, h, w)


def test_size_not_multiple_of_stride_is_a_clear_error(model):
    maps, presence, style_img = inputs(model.config, b=1, h=36, w=32)
    with pytest.raises(ValueError, match="multiple of 8"):
        model(maps, presence, style_img)


def test_every_modality_subset_runs_including_none(model):
    cfg = model.config
    size = (16, 16)
    full = {m: torch.rand(c, *size) for m, c in zip(cfg.modalities, [1, 16, 8, 1, 1, 6, 6, 1], strict=True)}
    style = model.encode_style(torch.zeros(1, 3, *size))
    outs = set()
    with torch.no_grad():
        for k in range(len(cfg.modalities) + 1):
            for subset in itertools.combinations(cfg.modalities, k):
                maps, presence = stack_maps({m: full[m] for m in subset}, cfg.modalities, size)
                assert presence.sum() == len(subset)
                out = model.generate(model.encode_content(maps, presence), style)
                assert out.shape == (1, 3, *size) and torch.isfinite(out).all()
                outs.add(out.sum().item())
    assert len(outs) == 2 ** len(cfg.modalities)  # each subset gives its own image


def test_strength_scales_the_map_and_zero_strength_drops_it():
    cfg = tiny_config()
    maps = {"depth": torch.full((1, 4, 4), 0.5)}
    stacked, presence = stack_maps(maps, cfg.modalities, (4, 4), strengths={"depth": 1.5})
    assert stacked[0, 0].max().item() == pytest.approx(0.75) and presence[0, 0] == 1
    stacked, presence = stack_maps(maps, cfg.modalities, (4, 4), strengths={"depth": 0.0})
    assert stacked.abs().sum() == 0 and presence.sum() == 0


def test_save_pretrained_from_pretrained_round_trips_exactly(model, tmp_path):
    model.fit_style_statistics(torch.randn(10, 16))
    model.save_pretrained(tmp_path / "ckpt", metadata={"steps": 3})
    loaded = Sensorium.from_pretrained(tmp_path / "ckpt")
    assert loaded.config == model.config and loaded.info.steps == 3 and loaded.info.to_dict() == {"steps": 3}
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    maps, presence, style_img = inputs(model.config, b=1)
    assert torch.equal(model(maps, presence, style_img), loaded(maps, presence, style_img))


def test_fp16_export_loads_as_float32_close_to_original(model, tmp_path):
    model.save_pretrained(tmp_path / "half", dtype=torch.float16)
    loaded = Sensorium.from_pretrained(tmp_path / "half")
    assert next(loaded.parameters()).dtype == torch.float32
    maps, presence, style_img = inputs(model.config, b=1)
    assert (model(maps, presence, style_img) - loaded(maps, presence, style_img)).abs().max() < 2e-2


def test_missing_key_corrupt_file_and_bad_config_fail_clearly(model, tmp_path):
    from safetensors.torch import load_file, save_file

    ckpt = model.save_pretrained(tmp_path / "c")
    state = load_file(ckpt / "model.safetensors")
    state.pop("generator.to_rgb.weight")
    save_file(state, ckpt / "model.safetensors")
    with pytest.raises(CheckpointError, match="missing keys.*to_rgb"):
        Sensorium.from_pretrained(ckpt)

    model.save_pretrained(ckpt)
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        Sensorium.from_pretrained(ckpt)

    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["model"]["style_dim"] = -3
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="style_dim must be a positive integer"):
        Sensorium.from_pretrained(ckpt)

    with pytest.raises(CheckpointError, match="no config.json"):
        Sensorium.from_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="not found"):
        Sensorium.from_pretrained(tmp_path / "does-not-exist")


def test_config_validation_and_json_round_trip():
    cfg = ModelConfig(modalities=("pose", "edges"), num_domains=2)
    assert ModelConfig.from_dict(json.loads(cfg.to_json())) == cfg
    with pytest.raises(ConfigError, match="unknown modalities"):
        ModelConfig(modalities=("smell",))
    with pytest.raises(ConfigError, match="modulation"):
        ModelConfig(modulation="film")
    with pytest.raises(ConfigError, match="unknown config fields"):
        ModelConfig.from_dict({"widht": 3})
    with pytest.raises(ConfigError, match="upgrade"):
        ModelConfig.from_dict({"config_version": 99})


def test_multi_domain_style_heads_and_discriminator_pick_the_domain():
    torch.manual_seed(0)
    cfg = tiny_config(num_domains=2)
    model = Sensorium(cfg)
    img = torch.rand(2, 3, 32, 32)
    both = model.encode_style(img, torch.tensor([0, 1]))
    assert torch.allclose(both[0], model.encode_style(img[:1], torch.tensor([0]))[0], atol=1e-6)
    assert torch.allclose(both[1], model.encode_style(img[1:], torch.tensor([1]))[0], atol=1e-6)
    assert not torch.allclose(both[0], model.encode_style(img[:1], torch.tensor([1]))[0])
    disc = MultiscaleDiscriminator(3, 0, 8, 3, 2, num_domains=2)
    out = disc(img, domain=torch.tensor([1, 0]))
    assert all(scale[-1].shape[1] == 1 for scale in out)


def test_sampled_styles_follow_fitted_statistics():
    model = Sensorium(tiny_config())
    target = torch.randn(500, 16) * 2 + 3
    model.fit_style_statistics(target)
    samples = model.sample_styles(4000, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(samples.mean(0), target.mean(0), atol=0.3)
    assert torch.allclose(samples.std(0), target.std(0), atol=0.3)


def test_checkpoint_info_is_typed_always_present_and_keeps_unknown_keys(tmp_path):
    from sensorium.checkpoint_info import CheckpointInfo

    model = Sensorium(tiny_config())
    assert model.info == CheckpointInfo()  # present before any load
    meta = {"steps": 7, "domains": ["a"], "senses": {"edges": "edges-canny"}, "from_a_newer_version": {"x": 1}}
    model.save_pretrained(tmp_path / "ckpt", metadata=meta)
    info = Sensorium.from_pretrained(tmp_path / "ckpt").info
    assert info.steps == 7 and info.domains == ("a",) and info.senses == {"edges": "edges-canny"}
    assert info.extra == {"from_a_newer_version": {"x": 1}} and info.to_dict() == meta  # written back unchanged
    shipped = Sensorium.from_pretrained(Path(__file__).resolve().parents[1] / "assets/checkpoints/sensorium-portraits").info
    assert shipped.resolution == 256 and shipped.senses["pose"] and "person" in shipped.trained_modalities
