"""What an export says about how it was made: the typed `metadata` of its config.json.

Written by training's export, read by `Sensorium.from_pretrained` into `model.info`, and always
present (an export without metadata reads as the defaults). Keys this version does not know are
kept in `extra` and written back unchanged, so an older reader never drops a newer field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckpointInfo:
    steps: int | None = None  # optimisation steps trained
    resolution: int | None = None  # training image side; the app opens at it
    data: str | None = None  # the training data's path, as given to train.py
    senses: dict[str, str] = field(default_factory=dict)  # modality → provider of its training maps
    trained_modalities: tuple[str, ...] = ()  # modalities present in the training data (empty: unknown)
    domains: tuple[str, ...] = ()  # one name per style head (the data's domain folders)
    perceptual: str | None = None  # the perceptual loss used: imagenet, random, random-legacy, none
    device: str | None = None  # what it was trained on
    world_size: int | None = None  # processes
    batch_size: int | None = None  # global batch
    training_minutes: float | None = None  # wall time, summed across resumes
    init_from: dict[str, Any] | None = None  # the export a warm start began from
    extra: dict[str, Any] = field(default_factory=dict)  # any other keys, kept as written

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> CheckpointInfo:
        d = dict(d or {})
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: d.pop(k) for k in list(d) if k in known}
        for name in ("trained_modalities", "domains"):
            if name in values:
                values[name] = tuple(values[name] or ())
        values["senses"] = dict(values.get("senses") or {})
        return cls(**values, extra=d)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: unset fields left out, `extra` merged back in."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or value is None or value == () or value == {}:
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return {**out, **self.extra}

    def replace(self, **changes: Any) -> CheckpointInfo:
        return dataclasses.replace(self, **changes)
