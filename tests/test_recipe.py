"""The data-efficient recipe: discriminator augmentation, the fixed random VGG, the independent
style view, style reconstruction, style-only samples, crisp line maps, LeCam, the half-resolution
schedule, composites and the memorisation metric — and regressions for the recipe's old bugs."""

import json
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch

from sensorium import Sensorium, tiny_config
from sensorium.discriminator import MultiscaleDiscriminator
from tests.training_fixtures import TINY_MODEL_ARGS, prepare_edges_dataset
from training import checkpoint, disc_augment
from training.config import ConfigError, TrainConfig
from training.steps import Batch, d_step, drop_modalities, g_step, generate_pair, style_view
from training.train import main as train_main

ALL_OPS = disc_augment.parse_policy("translation,cutout,color")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepare_edges_dataset(tmp_path_factory.mktemp("data"))


def run_args(data, out, steps, *extra):
    return ["--data", str(data), "--out", str(out), "--steps", str(steps), "--batch_size", "2", "--log_every", "1",
            "--sample_every", "1000", "--ckpt_every", "2", "--perceptual", "none", *TINY_MODEL_ARGS, *extra]  # fmt: skip


def read_log(out):
    return [json.loads(line) for line in (Path(out) / "log.jsonl").read_text().splitlines()]


# -- discriminator augmentation -------------------------------------------------------------------
def test_translation_moves_image_and_maps_by_the_same_pixels():
    image, maps = torch.zeros(4, 3, 32, 32), torch.zeros(4, 2, 32, 32)
    image[:, :, 12, 20] = 1
    maps[:, 1, 12, 20] = 1
    d = disc_augment.draw(("translation",), 4, 32, 32, torch.Generator().manual_seed(3))
    assert d.shift.abs().sum() > 0  # the draw moves something
    out, out_maps = disc_augment.apply(d, image, maps)
    for i in range(4):
        dy, dx = d.shift[i].tolist()
        assert out[i, 0, 12 + dy, 20 + dx] == 1 and out_maps[i, 1, 12 + dy, 20 + dx] == 1
        assert out[i].sum() == 3 and out_maps[i].sum() == 1  # moved, not smeared


def test_real_and_reconstruction_get_the_same_draw_and_colour_leaves_maps_alone():
    g = torch.Generator().manual_seed(0)
    d = disc_augment.draw(ALL_OPS, 2, 16, 16, g)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    maps = torch.rand(2, 3, 16, 16)
    out, out_maps = disc_augment.apply(d, torch.cat([x, x, x]), torch.cat([maps, maps, maps]))
    assert torch.equal(out[:2], out[2:4]) and torch.equal(out[2:4], out[4:])
    colour_only = disc_augment.draw(("color",), 2, 16, 16, g)
    img, same_maps = disc_augment.apply(colour_only, x, maps)
    assert torch.equal(same_maps, maps) and not torch.allclose(img, x)


def test_generator_gradients_flow_through_the_augmentation():
    torch.manual_seed(0)
    cfg = TrainConfig(model=tiny_config(), perceptual="none", d_augment="translation,cutout,color", lambda_l1=0.0)
    g, d = Sensorium(cfg.model), MultiscaleDiscriminator(3, cfg.model.map_channels, 8, 3, 2, 1).requires_grad_(False)
    gen = torch.Generator().manual_seed(1)
    b, c = 2, cfg.model.map_channels
    draw = disc_augment.draw(ALL_OPS, b, 32, 32, gen)
    batch = Batch(torch.rand(b, 3, 32, 32) * 2 - 1, torch.rand(b, c, 32, 32), torch.ones(b, len(cfg.model.modalities)),
                  torch.zeros(b, dtype=torch.long), torch.tensor([1, 0]), aug_d=draw, aug_g=draw)  # fmt: skip
    rec, paired, style = generate_pair(g, batch)
    loss, _, _ = g_step(d, None, batch, rec, paired, batch.maps, cfg, nullcontext, g.encode_style, style)
    loss.backward()
    grads = [p.grad for p in g.generator.parameters() if p.grad is not None]
    assert grads and sum(gr.abs().sum() for gr in grads) > 0


def test_an_unknown_augmentation_op_is_a_config_error():
    with pytest.raises(ConfigError, match="rotate"):
        TrainConfig(d_augment="translation,rotate")


# -- style --------------------------------------------------------------------------------------------
def test_the_style_view_differs_from_the_target_view():
    image = torch.rand(4, 3, 32, 32) * 2 - 1
    view = style_view(image, torch.Generator().manual_seed(0))
    assert view.shape == image.shape
    assert all((view[i] - image[i]).abs().mean() > 0.01 for i in range(4))


def test_drop_all_trains_style_only_samples_and_keeps_old_draws_at_zero():
    presence = torch.ones(1000, 6)
    none = drop_modalities(presence, 0.3, torch.Generator().manual_seed(0), p_all=0.05)
    share = float((none.sum(1) == 0).float().mean())
    assert 0.03 < share < 0.08  # 0.05 + 0.3**6, against 0.0007 from independent drops alone
    assert torch.equal(drop_modalities(presence, 0.3, torch.Generator().manual_seed(0)),
                       drop_modalities(presence, 0.3, torch.Generator().manual_seed(0), p_all=0.0))  # fmt: skip


# -- perceptual fallback -------------------------------------------------------------------------------
def test_the_random_vgg_has_live_features_at_every_layer_it_keeps():
    from skimage import data as skd

    from sensorium.losses import VGGPerceptualLoss

    x = torch.from_numpy(skd.astronaut()[::4, ::4].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    fixed, legacy = VGGPerceptualLoss("random"), VGGPerceptualLoss("random-legacy")
    means = [f.abs().mean().item() for f in fixed._feats(x)]
    assert len(means) == 3 and all(0.2 < m < 5 for m in means), means  # relu1_1 … relu3_1, order one
    assert legacy._feats(x)[-1].abs().mean() < 0.02  # the old init: relu5_1 all but dead


# -- line maps and the resolution schedule -------------------------------------------------------------
def test_crisp_lines_stay_binary_under_zoom():
    from sensorium.data import augment

    maps = torch.zeros(8, 2, 32, 32)  # person (area) + edges (lines)
    maps[:, :, :, 15] = 1
    batch = {"image": torch.zeros(8, 3, 32, 32), "maps": maps}
    out = augment(batch, ["person", "edges"], torch.Generator().manual_seed(0), max_zoom=1.5, crisp_lines=True)
    assert set(out["maps"][:, 1].unique().tolist()) <= {0.0, 1.0}  # nearest: still a line
    assert len(out["maps"][:, 0].unique()) > 2  # area maps stay bilinear
    blurred = augment(batch, ["person", "edges"], torch.Generator().manual_seed(0), max_zoom=1.5)
    assert len(blurred["maps"][:, 1].unique()) > 2


def test_zoom_p_leaves_the_other_samples_unresampled():
    from sensorium.data import augment

    image = torch.rand(64, 3, 16, 16)
    out = augment({"image": image, "maps": torch.zeros(64, 1, 16, 16)}, ["edges"], torch.Generator().manual_seed(0),
                  zoom_p=0.5)  # fmt: skip
    exact = [(torch.allclose(out["image"][i], image[i], atol=1e-5) or
              torch.allclose(out["image"][i], image[i].flip(-1), atol=1e-5)) for i in range(64)]  # fmt: skip
    assert 16 < sum(exact) < 48


def test_half_resolution_keeps_a_one_pixel_line_at_full_strength():
    from training.train import half_resolution

    maps = torch.zeros(1, 2, 8, 8)
    maps[:, :, 3, :] = 1
    image, small = half_resolution(torch.zeros(1, 3, 8, 8), maps, lines=[1])
    assert image.shape[-1] == 4 and small[0, 1, 1].min() == 1 and small[0, 0, 1].max() == 0.5


# -- training runs: every new option together, and the old bugs ------------------------------------------
def test_the_new_recipe_trains_end_to_end_and_logs_grad_norms(tmp_path):
    data = prepare_edges_dataset(tmp_path / "data", size=64)  # 32² at half resolution: 3 scales need it
    train_main(run_args(data, tmp_path, 4, "--d_augment", "translation,cutout,color", "--style_view", "true",
                        "--lambda_style", "1", "--drop_all_modalities", "0.05", "--zoom_p", "0.5",
                        "--crisp_lines", "true", "--lambda_lecam", "0.3", "--half_res_steps", "2"))  # fmt: skip
    log = read_log(tmp_path)
    assert len(log) == 4 and all(r["g_grad_norm"] > 0 and r["d_grad_norm"] > 0 for r in log)
    assert {"g_style", "d_lecam"} <= set(log[-1])
    state = checkpoint.load_state(tmp_path / "checkpoints" / "state-00000004.pt")
    assert state["lecam"]["anchor_real"] != 0  # the anchors travel with the training state


def test_an_unconditional_discriminator_trains(data, tmp_path):
    train_main(run_args(data, tmp_path, 3, "--model.disc_conditional", "false", "--d_augment", "translation"))
    assert (tmp_path / "export" / "model.safetensors").is_file()


def test_resume_trains_with_the_new_learning_rates_and_says_what_changed(data, tmp_path, capsys):
    train_main(run_args(data, tmp_path, 2, "--lr_g", "1e-4"))
    capsys.readouterr()
    train_main([*run_args(data, tmp_path, 4, "--lr_g", "3e-4", "--beta2", "0.99"), "--resume", "latest"])
    out = capsys.readouterr().out
    assert "lr_g 0.0001 → 0.0003" in out and "beta2 0.9 → 0.99" in out
    state = checkpoint.load_state(tmp_path / "checkpoints" / "state-00000004.pt")
    assert {g["lr"] for g in state["opt_g"]["param_groups"]} == {3e-4}
    assert {tuple(g["betas"]) for g in state["opt_g"]["param_groups"]} == {(0.0, 0.99)}


def test_an_integer_beta_from_yaml_is_a_float_adam_accepts(data, tmp_path):
    (tmp_path / "c.yaml").write_text("beta1: 0\nbeta2: 1\n")
    with pytest.raises(ConfigError, match="beta1 and beta2"):
        train_main([*run_args(data, tmp_path / "bad", 1), "--config", str(tmp_path / "c.yaml")])
    (tmp_path / "c.yaml").write_text("beta1: 0\n")
    assert isinstance(TrainConfig.from_dict({"beta1": 0}).beta1, float)
    train_main([*run_args(data, tmp_path / "run", 1), "--config", str(tmp_path / "c.yaml")])
    assert (tmp_path / "run" / "export" / "model.safetensors").is_file()


def test_debias_ema_refits_every_domains_style_statistics(tmp_path):
    from training.debias_ema import main as debias_main

    data = prepare_edges_dataset(tmp_path / "data", domains=("a", "b"))
    cfg = tiny_config(modalities=("edges",), num_domains=2)
    torch.manual_seed(0)  # the "EMA" is its own seed-0 initialisation: debiasing returns it unchanged
    Sensorium(cfg).save_pretrained(tmp_path / "export")
    debias_main([str(tmp_path / "export"), "--steps", "5", "--data", str(data), "--out", str(tmp_path / "out")])
    out = Sensorium.from_pretrained(tmp_path / "out")
    assert out.style_mean[0].abs().sum() > 0 and out.style_mean[1].abs().sum() > 0
    assert not torch.allclose(out.style_mean[0], out.style_mean[1])


def test_step_statistics_stay_on_the_device():
    cfg = TrainConfig(model=tiny_config(), perceptual="none", lambda_l1=1.0)
    g, d = Sensorium(cfg.model), MultiscaleDiscriminator(3, cfg.model.map_channels, 8, 3, 2, 1)
    b, c = 2, cfg.model.map_channels
    batch = Batch(torch.rand(b, 3, 32, 32) * 2 - 1, torch.rand(b, c, 32, 32), torch.ones(b, len(cfg.model.modalities)),
                  torch.zeros(b, dtype=torch.long), torch.tensor([1, 0]))  # fmt: skip
    rec, paired, _ = generate_pair(g, batch)
    _, d_stats = d_step(d, batch, rec, paired, batch.maps, cfg, 0, nullcontext)
    _, g_stats, _ = g_step(d, None, batch, rec, paired, batch.maps, cfg, nullcontext)
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in {**d_stats, **g_stats}.values())


# -- evaluation ---------------------------------------------------------------------------------------
def test_memorisation_flags_outputs_that_copy_a_training_image():
    from training.evaluate import memorisation

    gen = torch.Generator().manual_seed(0)
    train = torch.rand(6, 3, 32, 32, generator=gen) * 2 - 1
    contents = torch.rand(4, 3, 32, 32, generator=gen) * 2 - 1
    copied = memorisation(train[:4] * 0.5, contents, train)  # another colour scale, same layout
    faithful = memorisation(contents + 0.05 * torch.rand(4, 3, 32, 32, generator=gen), contents, train)
    assert copied["memorisation_fraction"] == 1.0 and copied["memorisation_margin"] > 0
    assert faithful["memorisation_fraction"] == 0.0 and faithful["memorisation_margin"] < 0


def test_a_training_state_exports_like_the_final_export(data, tmp_path):
    from training.export_state import main as export_main

    train_main(run_args(data, tmp_path, 2))
    out = export_main([str(tmp_path / "checkpoints" / "state-00000002.pt"), "--out", str(tmp_path / "again")])
    a, b = Sensorium.from_pretrained(tmp_path / "export"), Sensorium.from_pretrained(out)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(x, y, atol=1e-6), name  # the same EMA weights and style statistics
    assert b.info.steps == 2 and b.info.senses == {"edges": "edges-canny"}
    assert (out / "discriminator.safetensors").is_file()  # so --init_from on it warm-starts D too
    with pytest.raises(SystemExit, match="holds other files than an export"):  # the run's own folder, replaced whole
        export_main([str(tmp_path / "checkpoints" / "state-00000002.pt"), "--out", str(tmp_path)])
    assert (tmp_path / "checkpoints" / "state-00000002.pt").is_file()


def test_the_demo_recipe_file_is_a_valid_config_with_the_demo_architecture():
    import yaml

    from sensorium.config import ModelConfig
    from training.config import config_from_args

    root = Path(__file__).resolve().parents[1]
    cfg, _ = config_from_args(["--config", str(root / "training" / "configs" / "demo.yaml")])
    assert cfg.model == ModelConfig.demo()
    assert yaml.safe_load((root / "training" / "configs" / "demo.yaml").read_text())["model"] == {
        k: getattr(ModelConfig.demo(), k) for k in ("channels", "max_channels", "fusion_hidden", "style_channels",
                                                     "fusion_style_dim", "style_dim")}  # fmt: skip
    shipped = Sensorium.from_pretrained(root / "assets" / "checkpoints" / "sensorium-portraits").config
    assert shipped == ModelConfig.demo()
