"""The conditioning slots ("modalities") a Sensorium model can take: one `Modality` spec each,
the one home of every fact about a slot (its encoding, flip pairs, how it is resampled and
smoothed in video, what it contributes, which senses fill it). The sense registry, the app's
text, the video smoother and data augmentation all read it; tests/test_docs.py keeps the
README's modality table in agreement with it.

Channel counts are part of a checkpoint's contract: a sense fills a slot only if it produces exactly
this encoding. Every map is float32 in [0, 1] with shape (C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Modality:
    name: str
    channels: int
    description: str
    # Thin drawn lines (skeletons, contours, edges): resampled without blur (nearest when zooming,
    # max-pool when shrinking), since a bilinear resample smears a 1-px line that is crisp at test time.
    lines: bool = False
    # Channel pairs that swap under a horizontal flip (left/right body parts), as channel indices.
    flip_pairs: tuple[tuple[int, int], ...] = ()
    parts: tuple[str, ...] = ()  # what each channel is (classes or body/face parts), when channels have names
    contributes: str = ""  # what this slot pins down in the output, in a line for people (the app)
    smoothed: bool = False  # averaged over time in video (re-detected per frame, so it jitters)
    providers: tuple[str, ...] = ()  # the senses that can fill it (Sense.name), preferred first


# Compact face-parsing classes shared by every face-parsing sense (one-hot, one channel each).
FACE_PARSING_CLASSES: tuple[str, ...] = (
    "background",
    "person",  # hair, neck, body, clothes: the person mask outside the face
    "skin",  # face skin incl. nose and ears
    "brows",
    "eyes",
    "irises",
    "lips",
    "mouth",  # inner mouth / teeth
)

# Body skeleton limb groups (one channel each), drawn as thick lines between keypoints.
POSE_PARTS: tuple[str, ...] = ("head", "torso", "left_arm", "right_arm", "left_leg", "right_leg")

# Face landmark contour groups (one channel each), drawn as polylines of the face mesh.
FACE_PARTS: tuple[str, ...] = ("oval", "brows", "eyes", "irises", "nose", "lips")

SEGMENTATION_CHANNELS = 16  # scene labels (e.g. ADE20k's 150) embedded by a fixed binary code

MODALITIES: dict[str, Modality] = {
    m.name: m
    for m in (
        Modality("depth", 1, "monocular depth, normalised per image, near = 1",
                 contributes="3-D layout: near and far, perspective, occlusion", smoothed=True,
                 providers=("depth-transformers",)),
        Modality("segmentation", SEGMENTATION_CHANNELS, "scene semantic labels, fixed binary code",
                 contributes="what is where (sky, tree, wall…)", providers=("segmentation-transformers",)),
        Modality("face_parsing", len(FACE_PARSING_CLASSES), "face regions, one-hot", parts=FACE_PARSING_CLASSES,
                 contributes="face regions: skin, brows, eyes, lips",
                 providers=("face-parsing-transformers", "face-parsing-mesh", "face-parsing-mesh-torch")),
        Modality("face_depth", 1, "depth of the face from the 3-D face mesh, near = 1",
                 contributes="3-D shape of the face: nose, cheeks, jaw", smoothed=True,
                 providers=("face-depth-mesh", "face-depth-mesh-torch")),
        Modality("person", 1, "person (selfie) segmentation mask",
                 contributes="the person's silhouette against the background", smoothed=True,
                 providers=("person-selfie", "person-selfie-torch")),
        Modality("pose", len(POSE_PARTS), "body skeleton limbs, one channel per part", lines=True, parts=POSE_PARTS,
                 flip_pairs=tuple((POSE_PARTS.index(f"left_{p}"), POSE_PARTS.index(f"right_{p}")) for p in ("arm", "leg")),
                 contributes="body skeleton: head, torso, arms, legs", smoothed=True,
                 providers=("pose-openpose", "pose-mediapipe")),
        Modality("face_landmarks", len(FACE_PARTS), "facial keypoint contours, one channel per part", lines=True,
                 parts=FACE_PARTS,
                 contributes="contours of eyes, brows, nose, lips", smoothed=True,
                 providers=("face-landmarks-mesh", "face-landmarks-mesh-torch")),
        # Canny before HED on purpose: it gives the same maps on every machine.
        Modality("edges", 1, "edge map (Canny or HED)", lines=True,
                 contributes="outlines and fine detail (the most literal)", smoothed=True,
                 providers=("edges-canny", "edges-hed")),
    )
}  # fmt: skip

DEFAULT_MODALITIES: tuple[str, ...] = tuple(MODALITIES)

