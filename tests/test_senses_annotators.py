"""The controlnet-aux senses (OpenPose, HED) load from a local directory and keep the map
contract. Their real weights are not reachable here, so these tests save *random* weights with
the right architecture under the real file names; they check plumbing, not quality.
(Separate file: importing controlnet-aux alone takes ~10 s.)
"""

from __future__ import annotations

import pytest
import torch

from sensorium.modalities import POSE_PARTS
from sensorium.senses import SenseChoice, SenseSet

from .senses_fixtures import astronaut

pytest.importorskip("controlnet_aux")


def test_hed_from_local_dir(tmp_path):
    from controlnet_aux.hed import ControlNetHED_Apache2

    torch.manual_seed(0)
    torch.save(ControlNetHED_Apache2().state_dict(), tmp_path / "ControlNetHED.pth")
    senses = SenseSet(["edges"], overrides={"edges": SenseChoice("edges-hed", str(tmp_path))})
    out = senses.extract(astronaut(), (96, 128))
    assert "edges" in out, out.notes
    t = out["edges"].tensor
    assert t.shape == (1, 96, 128) and t.dtype == torch.float32 and 0 <= t.min() <= t.max() <= 1
    assert senses.sense("edges").name == "edges-hed"


@pytest.mark.slow
def test_openpose_from_local_dir(tmp_path):
    from controlnet_aux.open_pose.model import bodypose_model

    torch.manual_seed(0)
    # controlnet-aux's loader strips the first name component (checkpoint keys lack "model0." etc.)
    weights = {k.split(".", 1)[1]: v for k, v in bodypose_model().state_dict().items()}
    torch.save(weights, tmp_path / "body_pose_model.pth")
    senses = SenseSet(["pose"], overrides={"pose": SenseChoice("pose-openpose", str(tmp_path))})
    out = senses.extract(astronaut().resize((128, 128)), 64)
    assert "pose" in out, out.notes
    m = out["pose"]
    assert m.tensor.shape == (len(POSE_PARTS), 64, 64) and 0 <= m.tensor.min() <= m.tensor.max() <= 1
    assert m.extras["keypoints"].shape[1:] == (18, 3)
