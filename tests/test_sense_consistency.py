"""Sense consistency in training: the terms measure what they claim on a real photo, switch off
cleanly, and their gradients reach the generator."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest
import torch

from sensorium import Sensorium, tiny_config
from sensorium.discriminator import MultiscaleDiscriminator
from sensorium.senses.face_landmarks import MeshFaceLandmarks
from sensorium.senses.person import SelfiePerson
from tests.senses_fixtures import astronaut
from training.config import ConfigError, TrainConfig
from training.sense_consistency import SenseConsistency, face_boxes
from training.steps import Batch, g_step, generate_pair
from training.train import build_senses

MODALITIES = ("person", "face_landmarks")
SIZE = 64


@pytest.fixture(scope="module")
def content() -> tuple[torch.Tensor, torch.Tensor]:
    """The astronaut at 64² in [-1, 1] (1, 3, 64, 64) and her real person + landmark maps (1, 7, 64, 64)."""
    photo = astronaut().resize((SIZE, SIZE))
    image = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    maps = [SelfiePerson()(photo, (SIZE, SIZE)).tensor, MeshFaceLandmarks()(photo, (SIZE, SIZE)).tensor]
    return image, torch.cat(maps)[None]


@pytest.fixture(scope="module")
def senses() -> SenseConsistency:
    return SenseConsistency(MODALITIES, person=True, landmarks=True)


def test_face_box_is_the_ovals_extent_widened():
    oval = torch.zeros(2, 64, 64)
    oval[0, 10:30, 20:36] = 1  # 20 rows x 16 columns
    boxes, found = face_boxes(oval)
    assert found.tolist() == [True, False]
    cx, cy, w, h = boxes[0].tolist()
    assert (cx, cy) == pytest.approx((28 / 64, 20 / 64))
    assert (w, h) == pytest.approx((1.5 * 20 / 64, 1.5 * 20 / 64))


def test_the_terms_are_small_for_the_real_image_and_large_for_a_wrong_one(senses, content):
    image, maps = content
    presence = torch.ones(1, 2)
    with torch.no_grad():
        (person_real, marks_real), _ = senses(image, image, maps, presence)
        wrong = image.flip(-2)  # upside down: the person and the face are elsewhere
        (person_wrong, marks_wrong), stats = senses(wrong, image, maps, presence)
    assert marks_real < 1e-4, "the same image must give the same landmarks"
    assert person_real < 0.1 and person_wrong > 3 * person_real
    assert marks_wrong > 100 * max(float(marks_real), 1e-6)
    assert set(stats) == {"g_sense_person", "g_sense_landmarks_px"}


def test_a_dropped_modality_takes_its_term_out(senses, content):
    image, maps = content
    with torch.no_grad():
        (person, marks), _ = senses(image.flip(-2), image, maps, torch.zeros(1, 2))
    assert float(person) == 0 and float(marks) == 0


def test_off_by_default_and_weights_are_checked():
    assert build_senses(TrainConfig(), torch.device("cpu")) is None
    with pytest.raises(ConfigError, match="lambda_sense_person"):
        TrainConfig(lambda_sense_person=-1.0)


def test_gradients_reach_the_generator(senses, content):
    torch.manual_seed(0)
    image, maps = content
    cfg = TrainConfig(model=tiny_config(modalities=MODALITIES), perceptual="none", lambda_gan=0.0, lambda_fm=0.0,
                      lambda_sense_person=1.0, lambda_sense_landmarks=10.0)  # fmt: skip
    g = Sensorium(cfg.model)
    d = MultiscaleDiscriminator(3, cfg.model.map_channels, 8, 3, 2, 1).requires_grad_(False)
    b = 2
    batch = Batch(image.repeat(b, 1, 1, 1), maps.repeat(b, 1, 1, 1), torch.ones(b, 2), torch.zeros(b, dtype=torch.long),
                  torch.tensor([1, 0]))  # fmt: skip
    rec, paired, _ = generate_pair(g, batch)
    loss, stats, _ = g_step(d, None, batch, rec, paired, batch.maps, cfg, nullcontext, senses=senses)
    assert stats["g_sense_person"] > 0 and stats["g_sense_landmarks_px"] > 0
    loss.backward()  # lambda_gan = lambda_fm = lambda_l1 = 0: only the sense terms
    grads = [p.grad for p in g.generator.parameters() if p.grad is not None]
    assert grads and sum(float(gr.abs().sum()) for gr in grads) > 0


def test_training_runs_and_logs_the_sense_terms(content, tmp_path):
    import json

    from sensorium.data import save_sample
    from training.train import main as train_main

    image, maps = content
    rgb = ((image[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    data = tmp_path / "data"
    data.mkdir()
    for i, flip in enumerate((False, True)):
        px, m = (rgb[:, ::-1].copy(), maps[0].flip(-1)) if flip else (rgb, maps[0])
        save_sample(data / f"a{i}.npz", px, {"person": m[:1], "face_landmarks": m[1:]})
    train_main(["--data", str(data), "--out", str(tmp_path / "run"), "--steps", "2", "--batch_size", "2",
                "--log_every", "1", "--sample_every", "2", "--ckpt_every", "2", "--perceptual", "none",
                "--model.modalities", "person,face_landmarks", "--model.channels", "8", "--model.max_channels", "16",
                "--model.num_scales", "3", "--model.style_dim", "8", "--model.style_channels", "8",
                "--model.fusion_hidden", "8", "--model.fusion_style_dim", "4", "--model.disc_channels", "8",
                "--model.disc_layers", "3", "--lambda_sense_person", "1", "--lambda_sense_landmarks", "10",
                "--sense_samples", "1"])  # fmt: skip
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(r["g_sense_person"] > 0 and r["g_sense_landmarks_px"] > 0 for r in log)


def test_sense_feature_perceptual_loss(content):
    """--perceptual mediapipe: zero on the target itself, larger for a worse image, and it trains G."""
    from sensorium.sense_features import SenseFeatureLoss
    from training.train import build_perceptual

    loss_fn = build_perceptual(TrainConfig(perceptual="mediapipe"), torch.device("cpu"))
    assert isinstance(loss_fn, SenseFeatureLoss) and loss_fn.mode == "mediapipe"
    image, _ = content
    blurred = torch.nn.functional.avg_pool2d(image, 5, 1, 2)
    noise = (image + 0.5 * torch.randn_like(image)).clamp(-1, 1)
    with torch.no_grad():
        same, near, far = (float(loss_fn(x, image)[0]) for x in (image, blurred, noise))
    assert same == 0 and 0 < near < far
    fake = blurred.clone().requires_grad_(True)
    loss, stats = loss_fn(fake, image)
    loss.backward()
    assert fake.grad.abs().sum() > 0 and set(stats) == {"g_vgg"}
