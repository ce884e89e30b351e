"""Where the attention mesh's refined points go in the 478-point mesh (mediapipe's
tensors_to_face_landmarks_with_attention graph, LandmarksRefinementCalculator options).

The lips and eye networks' points overwrite x, y of these mesh indices (in this order); the irises
are appended as 468-472 (left) and 473-477 (right), each with z = the mean z of its eye's contour
(the first EYE_CONTOUR indices of the eye list).
"""

from __future__ import annotations

LIPS = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291,  # lower outer
    185, 40, 39, 37, 0, 267, 269, 270, 409,  # upper outer (excluding corners)
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308,  # lower inner
    191, 80, 81, 82, 13, 312, 311, 310, 415,  # upper inner (excluding corners)
    76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306,  # lower semi-outer
    184, 74, 73, 72, 11, 302, 303, 304, 408,  # upper semi-outer (excluding corners)
    62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292,  # lower semi-inner
    183, 42, 41, 38, 12, 268, 271, 272, 407,  # upper semi-inner (excluding corners)
)  # fmt: skip
LEFT_EYE = (
    33, 7, 163, 144, 145, 153, 154, 155, 133,  # lower contour
    246, 161, 160, 159, 158, 157, 173,  # upper contour (excluding corners)
    130, 25, 110, 24, 23, 22, 26, 112, 243,  # halo x2 lower
    247, 30, 29, 27, 28, 56, 190,  # halo x2 upper
    226, 31, 228, 229, 230, 231, 232, 233, 244,  # halo x3 lower
    113, 225, 224, 223, 222, 221, 189,  # halo x3 upper
    35, 124, 46, 53, 52, 65,  # halo x4 upper / eyebrow inner contour
    143, 111, 117, 118, 119, 120, 121, 128, 245,  # halo x5 lower
    156, 70, 63, 105, 66, 107, 55, 193,  # halo x5 upper / eyebrow outer contour
)  # fmt: skip
RIGHT_EYE = (  # the same layout as LEFT_EYE
    263, 249, 390, 373, 374, 380, 381, 382, 362,
    466, 388, 387, 386, 385, 384, 398,
    359, 255, 339, 254, 253, 252, 256, 341, 463,
    467, 260, 259, 257, 258, 286, 414,
    446, 261, 448, 449, 450, 451, 452, 453, 464,
    342, 445, 444, 443, 442, 441, 413,
    265, 353, 276, 283, 282, 295,
    372, 340, 346, 347, 348, 349, 350, 357, 465,
    383, 300, 293, 334, 296, 336, 285, 417,
)  # fmt: skip
LEFT_IRIS = (468, 469, 470, 471, 472)  # centre, then right, top, left, bottom edge
RIGHT_IRIS = (473, 474, 475, 476, 477)
EYE_CONTOUR = 16  # lower + upper contour: the points whose mean z an iris takes

assert len(LIPS) == 80 and len(LEFT_EYE) == len(RIGHT_EYE) == 71
