"""The canonical face template: the fixed target of every alignment (the alignment contract).

TEMPLATE_POINTS are 3D coordinates of a subset of MediaPipe FaceMesh landmarks on a mean face,
made by tools/make_template.py (Procrustes mean of real frames, mirrored to exact symmetry).
Units: the mean 478-point face spans [0, 1] in its larger image axis; x right, y down, z toward
the back of the head. Only x, y drive alignment; z serves head-pose estimation.
Changing any number here must change TEMPLATE_ID (swapstream/common/alignment_ids.py), and every
model trained before it is refused.
"""

from __future__ import annotations

import numpy as np

# (subject's right, subject's left) landmark pairs: eye corners and lids, brows, nostrils, cheeks.
ALIGN_PAIRS = (
    (33, 263),
    (133, 362),
    (159, 386),
    (145, 374),
    (70, 300),
    (105, 334),
    (107, 336),
    (98, 327),
    (234, 454),
)
# Nose bridge to tip and subnasale: rigid, expression-independent.
ALIGN_MIDLINE = (168, 6, 197, 195, 5, 4, 1, 2)
ALIGN_INDICES = tuple(i for p in ALIGN_PAIRS for i in p) + ALIGN_MIDLINE

TEMPLATE_POINTS = np.array(
    [
        [0.22386, 0.31936, 0.06801],  # 33
        [0.77614, 0.31936, 0.06801],  # 263
        [0.39405, 0.33558, 0.03642],  # 133
        [0.60595, 0.33558, 0.03642],  # 362
        [0.29549, 0.29686, 0.01447],  # 159
        [0.70451, 0.29686, 0.01447],  # 386
        [0.30432, 0.35077, 0.02758],  # 145
        [0.69568, 0.35077, 0.02758],  # 374
        [0.14984, 0.21187, 0.06341],  # 70
        [0.85016, 0.21187, 0.06341],  # 300
        [0.24058, 0.16372, -0.03252],  # 105
        [0.75942, 0.16372, -0.03252],  # 334
        [0.40612, 0.18674, -0.08379],  # 107
        [0.59388, 0.18674, -0.08379],  # 336
        [0.39795, 0.60725, -0.01595],  # 98
        [0.60205, 0.60725, -0.01595],  # 327
        [0.08711, 0.39752, 0.40604],  # 234
        [0.91289, 0.39752, 0.40604],  # 454
        [0.50000, 0.30412, -0.06539],  # 168
        [0.50000, 0.35868, -0.08552],  # 6
        [0.50000, 0.40710, -0.11111],  # 197
        [0.50000, 0.45246, -0.13896],  # 195
        [0.50000, 0.50102, -0.16761],  # 5
        [0.50000, 0.55680, -0.17652],  # 4
        [0.50000, 0.59633, -0.15982],  # 1
        [0.50000, 0.62403, -0.06241],  # 2
    ],
    dtype=np.float64,
)

assert TEMPLATE_POINTS.shape == (len(ALIGN_INDICES), 3)
