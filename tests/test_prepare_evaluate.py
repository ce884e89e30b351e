"""prepare.py carries on past bad files and reports them; evaluate.py writes its JSON and grid."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.data import list_samples
from tests.training_fixtures import TINY_MODEL_ARGS, prepare_edges_dataset
from training.evaluate import main as evaluate_main
from training.prepare import main as prepare_main
from training.train import main as train_main


def test_prepare_reports_corrupt_and_tiny_files_and_carries_on(tmp_path):
    from skimage import data

    src = tmp_path / "images"
    (src / "portraits").mkdir(parents=True)
    Image.fromarray(data.astronaut()).save(src / "portraits" / "astronaut.png")
    Image.fromarray(data.coffee()).save(src / "coffee.jpg")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.new("RGB", (20, 20), "red").save(src / "tiny.png")
    out = tmp_path / "prepared"
    report = prepare_main([str(src), "--out", str(out), "--resolution", "64", "--senses", "edges,person", "--workers", "1"])
    assert len(report["done"]) == 2
    skipped = "\n".join(report["skipped"])
    assert "broken.jpg: unreadable" in skipped and "tiny.png: too small" in skipped
    assert {d for _, d in list_samples(out)} == {"default", "portraits"}  # sub-folders become domains
    with np.load(out / "portraits" / "astronaut.npz") as f:
        assert f["image"].shape == (64, 64, 3) and f["map_edges"].shape == (1, 64, 64)
    Image.fromarray(data.chelsea()).save(src / "chelsea.jpg")
    # Two spawned workers: pins the hang of forked workers inside a threaded process (pytest, the app).
    again = prepare_main([str(src), "--out", str(out), "--resolution", "64", "--senses", "edges,person", "--workers", "2"])
    assert again["already_done"] == 2 and len(again["done"]) == 1  # resumable: only the new image


@pytest.mark.slow
def test_evaluate_writes_metrics_and_grid(tmp_path, monkeypatch):
    from torchvision.models import alexnet

    from sensorium.backbones import ALEXNET
    from training.evaluate import inception_net, lpips_net

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no foreign weights, whatever this machine has
    monkeypatch.setenv("SENSORIUM_OFFLINE", "1")
    inception_net.cache_clear(), lpips_net.cache_clear()
    data = prepare_edges_dataset(tmp_path / "data")
    train_main(["--data", str(data), "--out", str(tmp_path / "run"), "--steps", "2", "--batch_size", "2",
                "--sample_every", "100", "--ckpt_every", "100", "--perceptual", "none", *TINY_MODEL_ARGS])  # fmt: skip
    evaluate = lambda out: evaluate_main([str(tmp_path / "run" / "export"), "--data", str(data),  # noqa: E731
                                          "--out", str(tmp_path / out), "--pairs", "4"])  # fmt: skip
    metrics = evaluate("eval")
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics)) and saved["pairs"] == 4
    assert 0 < saved["reconstruction_psnr"] < 60 and -1 <= saved["reconstruction_ssim"] <= 1
    assert isinstance(saved["content_consistency"]["edges"], float)  # Canny re-run on the outputs
    assert saved["fid"] is None and "Inception" in saved["fid_note"]  # no weights here: said, not faked
    assert saved["reconstruction_lpips"] is None and "alexnet-owt-7be5be79.pth" in saved["lpips_note"]
    assert Image.open(tmp_path / "eval" / "grid.png").size[0] > 0

    # An AlexNet state dict where torchvision keeps its downloads turns LPIPS on.
    ALEXNET.cache_path.parent.mkdir(parents=True)
    torch.save(alexnet(weights=None).state_dict(), ALEXNET.cache_path)
    lpips_net.cache_clear()
    with_lpips = evaluate("eval_lpips")
    assert with_lpips["reconstruction_lpips"] > 0 and "lpips_note" not in with_lpips
    assert with_lpips["reconstruction_psnr"] == metrics["reconstruction_psnr"]  # same seeded pairs
    inception_net.cache_clear(), lpips_net.cache_clear()
