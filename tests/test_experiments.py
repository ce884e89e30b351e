"""The paper's experiments at toy scale: two-domain training translates both ways, every ablation
config trains and exports, and training.compare builds one table from several checkpoints."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from sensorium.model import Sensorium
from tests.training_fixtures import TINY_MODEL_ARGS, prepare_edges_dataset
from training.compare import main as compare_main
from training.compare import task_pairs
from training.config import config_from_args
from training.steps import random_pairing
from training.train import main as train_main

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"
ABLATIONS = ["sensorium", "spade_content_only", "no_demod_adain", "no_fusion", "no_skips", "single_modality_pose"]
# Tiny widths, but each config keeps its own modalities (single_modality_pose: pose only).
i = TINY_MODEL_ARGS.index("--model.modalities")
TINY_SIZE_ARGS = TINY_MODEL_ARGS[:i] + TINY_MODEL_ARGS[i + 2 :]


def quick_args(data, out, steps):
    return ["--data", str(data), "--out", str(out), "--steps", str(steps), "--batch_size", "4", "--log_every", "1",
            "--sample_every", "1000", "--ckpt_every", "1000", "--perceptual", "none"]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: on 2 shared cores, 2 OpenMP threads that spin-wait for a busy core run
    tiny convs ~15x slower (measured 20 ms vs 1.2 ms a conv while other jobs ran)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Four real photos at 32², two per domain: a = {astronaut, chelsea}, b = {coffee, rocket}."""
    return prepare_edges_dataset(tmp_path_factory.mktemp("two_domains"), size=32, domains=("a", "b"))


@pytest.fixture(scope="module")
def exports(data, tmp_path_factory):
    """Every ablation config, trained 2 steps at tiny size on the two-domain set."""
    root = tmp_path_factory.mktemp("ablations")
    return {name: train_main(["--config", str(CONFIGS / f"{name}.yaml"), *quick_args(data, root / name, 2),
                              *TINY_SIZE_ARGS]) for name in ABLATIONS}  # fmt: skip


def test_random_pairs_cross_domains_deterministically():
    domain = torch.tensor([0, 0, 1, 0, 1, 1, 0, 0])
    for seed in range(20):
        pair = random_pairing(8, torch.Generator().manual_seed(seed), domain)
        assert (domain[pair] != domain).all()  # style always from the other domain
        assert torch.equal(pair, random_pairing(8, torch.Generator().manual_seed(seed), domain))
        # One domain: the pairing an older single-domain run drew, so its resume stays exact.
        same = random_pairing(8, torch.Generator().manual_seed(seed), torch.zeros(8, dtype=torch.long))
        assert torch.equal(same, random_pairing(8, torch.Generator().manual_seed(seed)))
        assert (same != torch.arange(8)).all()


def test_two_domain_run_translates_both_ways(data, tmp_path):
    export = train_main([*quick_args(data, tmp_path, 4), *TINY_MODEL_ARGS, "--model.num_domains", "2"])
    model = Sensorium.from_pretrained(export)
    assert model.info.domains == ("a", "b")
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(log) == 4 and all(torch.isfinite(torch.tensor(r["g_loss"])) for r in log)

    from sensorium.data import SenseDataset

    ds = SenseDataset(data, model.config.modalities)
    a, b = [ds.batch([i for i, d in enumerate(ds.domain_ids) if d == k]) for k in (0, 1)]
    with torch.no_grad():
        b_as_a = model(b["maps"], b["presence"], a["image"], torch.zeros(2, dtype=torch.long))  # content b, style a
        a_as_b = model(a["maps"], a["presence"], b["image"], torch.ones(2, dtype=torch.long))  # content a, style b
        heads = [model.encode_style(a["image"], torch.full((2,), k)) for k in (0, 1)]
    for out in (b_as_a, a_as_b):
        assert out.shape == (2, 3, 32, 32) and torch.isfinite(out).all() and out.abs().max() <= 1
    assert not torch.allclose(heads[0], heads[1])  # one style head per domain
    assert not torch.allclose(b_as_a, a_as_b)

    # Users pick the style head by the training set's domain names (pipeline, CLI; the app's dropdown).
    from PIL import Image

    from sensorium.cli import main as cli_main
    from sensorium.pipeline import TranslationPipeline

    pipe = TranslationPipeline.from_pretrained(export, device="cpu")
    assert pipe.domain_names == ("a", "b") and pipe.domain_index("b") == pipe.domain_index("1") == 1
    with pytest.raises(ValueError, match="this checkpoint has a, b"):
        pipe.domain_index("c")
    photo = tmp_path / "photo.png"
    Image.fromarray((ds.batch([0])["image"][0].permute(1, 2, 0).numpy() * 127.5 + 127.5).astype("uint8")).save(photo)
    outs = {}
    for domain in ("a", "b", "1"):
        outs[domain] = tmp_path / f"out_{domain}.png"
        assert cli_main(["translate", str(photo), str(photo), "-o", str(outs[domain]), "--checkpoint", str(export),
                         "--resolution", "32", "--domain", domain]) == 0  # fmt: skip
    pixels = {d: np.asarray(Image.open(p)) for d, p in outs.items()}
    assert np.array_equal(pixels["b"], pixels["1"]) and not np.array_equal(pixels["a"], pixels["b"])


def test_ablation_configs_differ_only_in_the_ablation():
    # Rows of one table must share data, schedule and every other setting; only `out` and the
    # model switches may differ, or a row's change would not be the ablation alone.
    configs = {name: yaml.safe_load((CONFIGS / f"{name}.yaml").read_text()) for name in ABLATIONS}
    shared = lambda c: {k: v for k, v in c.items() if k not in ("out", "model")}  # noqa: E731
    assert all(shared(c) == shared(configs["sensorium"]) for c in configs.values())
    assert len({c["out"] for c in configs.values()}) == len(ABLATIONS)
    for path in CONFIGS.glob("*.yaml"):  # recipes too: every file parses into a valid TrainConfig
        config_from_args(["--config", str(path)])


def test_each_ablation_config_trains_and_exports(exports):
    expect = {"sensorium": ("demod", True, True), "spade_content_only": ("none", False, True),
              "no_demod_adain": ("adain", True, True), "no_fusion": ("demod", False, True),
              "no_skips": ("demod", True, False), "single_modality_pose": ("demod", True, True)}  # fmt: skip
    for name, export in exports.items():
        model = Sensorium.from_pretrained(export)
        c = model.config
        assert (c.modulation, c.use_fusion, c.use_skips) == expect[name], name
        assert c.num_domains == 2 and c.channels == 8, name  # the YAML's switches, the CLI's tiny size
        assert (c.modalities == ("pose",)) == (name == "single_modality_pose"), name


def test_compare_writes_one_table_for_all_checkpoints(data, exports, tmp_path):
    ckpts = [f"{n}={exports[n]}" for n in ("sensorium", "spade_content_only")]
    table = compare_main(["--checkpoints", *ckpts, "--data", str(data), "--out", str(tmp_path), "--pairs", "6"])
    rows = {(r["model"], r["task"]): r for r in table["rows"]}
    assert set(rows) == {(m, t) for m in ("sensorium", "spade_content_only") for t in ("a→b", "b→a")}
    # Content-only SPADE ignores the style image: its translation is its reconstruction.
    assert rows[("spade_content_only", "a→b")]["style_change_l1"] == 0
    assert rows[("sensorium", "a→b")]["style_change_l1"] > 0
    assert isinstance(rows[("sensorium", "b→a")]["content_consistency"]["edges"], float)
    assert (rows[("sensorium", "a→b")]["fid"] is None) == ("fid_note" in rows[("sensorium", "a→b")])
    md = (tmp_path / "table.md").read_text()
    assert md.count("\n| sensorium |") == 2 and md.count("\n| spade_content_only |") == 2
    assert json.loads((tmp_path / "table.json").read_text())["domains"] == ["a", "b"]
    for task in ("a_to_b", "b_to_a"):
        assert (tmp_path / f"grid_{task}.png").is_file()
        assert (tmp_path / "sensorium" / task / "grid.png").is_file()


def test_every_checkpoint_is_scored_on_the_same_pairs():
    ids = [0, 0, 1, 1, 1, 0]
    c1, s1 = task_pairs(ids, 0, 1, 10, seed=3)
    c2, s2 = task_pairs(ids, 0, 1, 10, seed=3)
    assert torch.equal(c1, c2) and torch.equal(s1, s2)
    assert all(ids[i] == 0 for i in c1) and all(ids[i] == 1 for i in s1)
    c, s = task_pairs([0] * 5, 0, 0, 20, seed=0)
    assert (c != s).all()  # one domain: never the content image as its own style


def test_tasks_are_every_direction_or_one_for_a_single_domain():
    from training.compare import task_name, tasks_of

    assert [task_name(*t) for t in tasks_of(["female", "male"])] == ["female→male", "male→female"]
    assert [task_name(*t) for t in tasks_of(["default"])] == ["all"]


def test_split_by_attribute_links_images_into_domains_and_holds_out_whole_photos(tmp_path):
    from training.data.domains import build, split

    images = tmp_path / "img"
    images.mkdir()
    rows = []
    for k in range(10):
        (images / f"{k}.jpg").write_bytes(b"jpeg")
        rows.append(f"{k}.jpg {'1' if k % 2 else '-1'} 1")
    (tmp_path / "anno.txt").write_text("10\nMale Young\n" + "\n".join(rows) + "\n")  # CelebA format
    counts = split(images, tmp_path / "anno.txt", "Male", ("female", "male"), 2, tmp_path / "out")
    assert counts == {"train": {"female": 3, "male": 3}, "val": {"female": 2, "male": 2}}
    female = [f for part in ("train", "val") for f in (tmp_path / "out" / part / "female").iterdir()]
    assert all(f.is_symlink() and int(f.stem) % 2 == 0 for f in female) and len(female) == 5  # Male = -1

    # Prepared crops of one photo (`x_s0`, `x_s1`) never straddle train and val.
    prepared = prepare_edges_dataset(tmp_path / "prep", size=16)
    for f in list(prepared.glob("*.npz")):
        f.rename(prepared / f"{f.stem}_s0.npz")
        (prepared / f"{f.stem}_s1.npz").write_bytes((prepared / f"{f.stem}_s0.npz").read_bytes())
    build({"x": [prepared]}, 2, tmp_path / "built", resolution=8)
    val = {f.stem.rsplit("_", 1)[0] for f in (tmp_path / "built" / "val" / "x").glob("*.npz")}
    train = {f.stem.rsplit("_", 1)[0] for f in (tmp_path / "built" / "train" / "x").glob("*.npz")}
    assert val and train and not val & train
    from sensorium.data import load_sample, sample_providers

    sample = next((tmp_path / "built" / "train" / "x").glob("*.npz"))
    image, maps = load_sample(sample)
    assert image.shape == (8, 8, 3) and maps["edges"].shape == (1, 8, 8)
    assert sample_providers(sample) == {"edges": "edges-canny"}  # resized samples keep their senses
