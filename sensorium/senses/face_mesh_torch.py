"""The face-mesh senses (landmark contours, mesh face parsing, mesh face depth) through the torch
port of mediapipe's FaceMesh: the same maps as face-landmarks-mesh / face-parsing-mesh /
face-depth-mesh, drawn by the same code, with the mesh from `face_mesh_port` on any torch device
and batched. The providers for GPU machines, and usable where mediapipe is not installed (only its
.tflite files are needed, e.g. under $SENSORIUM_MEDIAPIPE_MODULES).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .base import Availability, SenseMap
from .face_depth import MeshFaceDepth
from .face_landmarks import MeshFaceLandmarks
from .face_parsing_mesh import MeshFaceParsing
from .mediapipe_ports import SELFIE_MODEL
from .recent import recent


def _tensors(images: list[Image.Image]) -> list[torch.Tensor]:
    return [torch.from_numpy(np.array(im, dtype=np.uint8)).permute(2, 0, 1).float() / 255 for im in images]


class TorchFaceMeshSense:
    """Mixin before a mediapipe face-mesh sense: the landmarks come from the torch port instead."""

    gpu = True  # a device provider: tried first where the sense set runs on CUDA
    batched = True
    models: tuple[str, ...] = ()  # the bundled .tflite files it needs, besides the mesh's

    def _check_available(self) -> Availability:
        from .face_mesh_port import ATTENTION_MESH_MODEL
        from .mediapipe_ports import FACE_DETECTION_MODEL, port_availability

        return port_availability(self.label, (FACE_DETECTION_MODEL, ATTENTION_MESH_MODEL, *self.models))  # type: ignore[attr-defined]

    def _load(self, device: torch.device) -> None:
        from .face_mesh_port import face_mesh_port

        face_mesh_port(device, self.max_faces)  # type: ignore[attr-defined]

    def _meshes(self, images: list[Image.Image]) -> list[list[np.ndarray]]:
        """One mesh per image for all three face senses (sensorium/senses/recent.py)."""
        from .face_mesh_port import face_mesh_batch

        device, max_faces = self.device, self.max_faces  # type: ignore[attr-defined]
        memo = recent(("face-mesh-port", str(device), max_faces))
        return memo.batch(images, lambda todo: face_mesh_batch(_tensors(todo), device, max_faces))

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        return self._extract_batch([image], size)[0]

    def _extract_batch(self, images: list[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        return [self._map(faces, size) for faces in self._meshes(images)]  # type: ignore[attr-defined]


class TorchMeshFaceLandmarks(TorchFaceMeshSense, MeshFaceLandmarks):
    name = "face-landmarks-mesh-torch"
    label = "face landmarks (face mesh, in torch)"
    port_of = "face-landmarks-mesh"


class TorchMeshFaceDepth(TorchFaceMeshSense, MeshFaceDepth):
    name = "face-depth-mesh-torch"
    label = "depth (face mesh, in torch)"
    port_of = "face-depth-mesh"


class TorchMeshFaceParsing(TorchFaceMeshSense, MeshFaceParsing):
    """Mesh regions over the person mask, both from the ports (selfie segmentation in torch)."""

    name = "face-parsing-mesh-torch"
    label = "face parsing (face mesh, in torch)"
    port_of = "face-parsing-mesh"
    models = (SELFIE_MODEL,)

    def _load(self, device: torch.device) -> None:
        from .person_torch import TorchSelfiePerson

        super()._load(device)
        self.person = TorchSelfiePerson().load(device)

    def _extract_batch(self, images: list[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        people = self.person.extract_batch(images, size)
        return [self._map(faces, p.tensor[0].numpy()) for faces, p in zip(self._meshes(images), people, strict=True)]
