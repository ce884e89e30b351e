"""prepare.py carries on past bad files and reports them; evaluate.py writes its JSON and grid."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.data import SenseDataset, list_samples, sample_providers
from tests.training_fixtures import TINY_MODEL_ARGS, prepare_edges_dataset
from training.evaluate import main as evaluate_main
from training.prepare import main as prepare_main
from training.train import main as train_main


def test_prepare_reports_corrupt_and_tiny_files_and_carries_on(tmp_path, capsys):
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
    # Which sense made each map travels with the sample, then into the export (see train.py).
    assert sample_providers(out / "portraits" / "astronaut.npz") == {"edges": "edges-canny", "person": "person-selfie"}
    assert SenseDataset(out, ["edges", "person", "pose"]).providers() == {"edges": "edges-canny", "person": "person-selfie"}
    Image.fromarray(data.chelsea()).save(src / "chelsea.jpg")
    # Two spawned workers: pins the hang of forked workers inside a threaded process (pytest, the app).
    again = prepare_main([str(src), "--out", str(out), "--resolution", "64", "--senses", "edges,person", "--workers", "2"])
    assert again["already_done"] == 2 and len(again["done"]) == 1  # resumable: only the new image
    with pytest.raises(SystemExit):  # resuming at another size would leave a set of two sizes
        prepare_main([str(src), "--out", str(out), "--resolution", "32", "--senses", "edges"])
    assert "already holds samples of 64×64 px" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # nor with other senses: the skipped files would lack them
        prepare_main([str(src), "--out", str(out), "--resolution", "64", "--senses", "edges,person,pose"])
    assert "of 64×64 px with edges, person; this run would write samples of 64×64 px with edges, person, pose" in capsys.readouterr().err


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


def test_prepare_reads_a_hugging_face_dataset_with_domains_and_bad_rows(tmp_path):
    """A `datasets` image dataset (as saved by save_to_disk) with a ClassLabel domain column, one
    corrupt row and one tiny row: good rows land in domain folders, bad rows are reported, a rerun
    resumes."""
    import io

    import datasets
    from skimage import data

    def png(array) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, format="PNG")
        return buf.getvalue()

    rows = {
        "image": [{"bytes": png(data.astronaut()), "path": None}, {"bytes": png(data.coffee()), "path": None},
                  {"bytes": b"\x89PNG\r\n\x1a\n truncated", "path": None},
                  {"bytes": png(np.zeros((20, 20, 3), np.uint8)), "path": None},
                  {"bytes": png(data.chelsea()), "path": None}],
        "kind": [0, 1, 1, 0, 1],
    }  # fmt: skip
    features = datasets.Features({"image": datasets.Image(), "kind": datasets.ClassLabel(names=["person", "scene"])})
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(tmp_path / "hf"))
    out = tmp_path / "prepared"
    args = ["--dataset", str(tmp_path / "hf"), "--domain_column", "kind", "--out", str(out), "--resolution", "64",
            "--senses", "edges", "--workers", "1"]  # fmt: skip

    report = prepare_main([*args, "--limit", "4"])
    assert len(report["done"]) == 2
    skipped = "\n".join(report["skipped"])
    assert "[train][2]: unreadable" in skipped and "[train][3]: too small (20x20 < 64)" in skipped
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npz")) == [
        "person/train-0000000.npz", "scene/train-0000001.npz"]  # fmt: skip
    with np.load(out / "person" / "train-0000000.npz") as f:
        np.testing.assert_array_equal(f["image"], np.asarray(Image.fromarray(data.astronaut()).resize((64, 64), Image.LANCZOS)))
    again = prepare_main(args)
    assert again["already_done"] == 2 and again["done"] == ["hf[train][4]: ['edges']".replace("hf", str(tmp_path / "hf"))]

    with pytest.raises(SystemExit, match="no column 'gender'"):
        prepare_main([*args[:2], "--domain_column", "gender", *args[4:]])
    with pytest.raises(SystemExit):  # a folder and --dataset at once
        prepare_main([str(tmp_path), *args])
