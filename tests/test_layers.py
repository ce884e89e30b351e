"""Behaviour of the building blocks: demodulated conv, SPADE, fusion, losses."""

import pytest
import torch

from sensorium.layers import Fusion, ModulatedConv2d, modulated_conv2d, spade_norm
from sensorium.losses import VGGPerceptualLoss, d_hinge, feature_matching, g_hinge


def test_demodulated_conv_keeps_unit_variance_across_random_styles():
    torch.manual_seed(0)
    x = torch.randn(8, 64, 32, 32)
    weight = torch.randn(96, 64, 3, 3)
    for _ in range(5):
        style = torch.rand(8, 64) * 3 + 0.1  # wildly different per-channel scales per sample
        out = modulated_conv2d(x, weight, style, demodulate=True)
        per_sample_std = out.std(dim=(1, 2, 3))
        assert torch.allclose(per_sample_std, torch.ones(8), atol=0.1), per_sample_std
        # Without demodulation the scale follows the style, which is what demod removes.
        raw = modulated_conv2d(x, weight, style, demodulate=False).std(dim=(1, 2, 3))
        assert raw.max() / raw.min() > per_sample_std.max() / per_sample_std.min()


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("kernel", [1, 3])
def test_grouped_and_scaled_forms_agree(demodulate, kernel):
    torch.manual_seed(0)
    x, w, s = torch.randn(3, 16, 12, 10), torch.randn(24, 16, kernel, kernel), torch.randn(3, 16)
    a = modulated_conv2d(x, w, s, demodulate, form="scaled")
    b = modulated_conv2d(x, w, s, demodulate, form="grouped")
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def test_modulated_conv_rejects_mismatched_style():
    conv = ModulatedConv2d(8, 8, 3, style_dim=4)
    with pytest.raises(ValueError, match="disagree"):
        conv(torch.randn(2, 8, 8, 8), torch.randn(3, 4))


def test_spade_with_zero_gamma_beta_is_instance_norm():
    x = torch.randn(2, 5, 9, 9) * 3 + 1
    zero = torch.zeros_like(x)
    out = spade_norm(x, zero, zero)
    assert torch.allclose(out, torch.nn.functional.instance_norm(x), atol=1e-6)
    assert torch.allclose(out.mean(dim=(2, 3)), torch.zeros(2, 5), atol=1e-5)


def test_fresh_fusion_is_identity_and_depends_on_style_after_training_signal():
    fusion = Fusion(c_norm=6, content_channels=4, style_dim=8, style_proj=3, hidden=5)
    content = torch.randn(2, 4, 7, 7)
    gamma, beta = fusion(content, torch.randn(2, 8))
    assert gamma.abs().max() == 0 and beta.abs().max() == 0  # zero-init: block starts as plain norm
    torch.nn.init.normal_(fusion.to_gamma.weight)
    g1, _ = fusion(content, torch.zeros(2, 8))
    g2, _ = fusion(content, torch.ones(2, 8))
    assert not torch.allclose(g1, g2)  # tiled style really reaches gamma


def test_hinge_losses_on_known_logits():
    real, fake = [torch.tensor([2.0, 0.5, -1.0])], [torch.tensor([-2.0, 0.0, 1.0])]
    loss, stats = d_hinge(real, fake)
    # relu(1 - r) = [0, .5, 2] → mean 5/6 ; relu(1 + f) = [0, 1, 2] → mean 1
    assert loss.item() == pytest.approx(5 / 6 + 1)
    assert stats == pytest.approx({"d_real": 5 / 6, "d_fake": 1.0})
    g, _ = g_hinge(fake)
    assert g.item() == pytest.approx(-(-2 + 0 + 1) / 3)


def test_feature_matching_ignores_logits_and_detaches_real():
    real = [[torch.ones(1, 2, 4, 4, requires_grad=True), torch.zeros(1, 1, 2, 2)]]
    fake = [[torch.zeros(1, 2, 4, 4, requires_grad=True), torch.full((1, 1, 2, 2), 100.0)]]
    loss, _ = feature_matching(real, fake)
    assert loss.item() == pytest.approx(1.0)
    loss.backward()
    assert real[0][0].grad is None and fake[0][0].grad is not None


def test_vgg_loss_random_fallback_is_explicit_and_imagenet_missing_is_clear(monkeypatch, tmp_path):
    monkeypatch.setenv("SENSORIUM_VGG19_WEIGHTS", str(tmp_path / "nope.pth"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="vgg19-dcbb9e9d.pth"):
        VGGPerceptualLoss("imagenet", allow_download=False)
    loss_fn = VGGPerceptualLoss("random")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    same, _ = loss_fn(x, x)
    other, _ = loss_fn(x, -x)
    assert same.item() == 0 and other.item() > 0
    assert loss_fn.features[0].weight.requires_grad is False
