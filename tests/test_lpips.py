"""LPIPS: the same numbers as the reference `lpips` package, the torchvision backbone found by the
documented lookup, and a clear message (not a fake number) when the backbone is missing."""

import pytest
import torch
from torchvision.models import alexnet

from sensorium.backbones import ALEXNET
from training.lpips_metric import LPIPS, heads_file, load_lpips


def photo_pair(size: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    """A real photo crop in [-1, 1] and a blurred, shifted copy of it."""
    from skimage import data

    x = torch.from_numpy(data.astronaut()[:size, 200 : 200 + size]).permute(2, 0, 1)[None].float() / 127.5 - 1
    blurred = torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2)
    return x, torch.roll(blurred, shifts=3, dims=-1)


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_equals_reference_implementation(net):
    import warnings

    import lpips as reference

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference passes torchvision's deprecated `pretrained`
        ref = reference.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False).eval()
    # the reference's backbone (random init: no ImageNet weights here) in torchvision's layout
    backbone = {f"features.{k.split('.')[1]}.{k.split('.')[2]}": v for k, v in ref.net.state_dict().items()}
    ours = LPIPS(net, backbone, torch.load(heads_file(net), map_location="cpu", weights_only=True))
    a, b = photo_pair()
    x = torch.cat([a, b, -a])
    y = torch.cat([b, a, a])
    with torch.no_grad():
        expected = ref(x, y).flatten()
        got = ours(x, y)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert got[0] == pytest.approx(got[1].item(), rel=1e-5)  # symmetric
    assert ours(a, a).item() == 0


def test_backbone_found_in_torch_hub_cache_without_network(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SENSORIUM_OFFLINE", "1")
    monkeypatch.delenv(ALEXNET.env_var, raising=False)
    torch.manual_seed(0)
    state = alexnet(weights=None).state_dict()
    ALEXNET.cache_path.parent.mkdir(parents=True)
    torch.save(state, ALEXNET.cache_path)  # where torchvision's download would have put it

    metric = load_lpips("alex")
    direct = LPIPS("alex", state, torch.load(heads_file("alex"), map_location="cpu", weights_only=True))
    a, b = photo_pair(64)
    assert metric(a, b).item() == direct(a, b).item() > 0


def test_missing_backbone_says_which_file_and_where(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SENSORIUM_OFFLINE", "1")
    monkeypatch.delenv(ALEXNET.env_var, raising=False)
    with pytest.raises(FileNotFoundError) as err:
        load_lpips("alex")
    message = str(err.value)
    assert "LPIPS" in message and "alexnet-owt-7be5be79.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message and "SENSORIUM_ALEXNET_WEIGHTS" in message
    with pytest.raises(ValueError, match="net must be one of"):
        load_lpips("resnet")
