"""FACS action-unit intensities estimated from ARKit blendshapes (through `rigs.facs.ACTION_UNITS`)."""

from __future__ import annotations

import numpy as np

from rigs.arkit import ARKIT_INDEX
from rigs.facs import ACTION_UNITS


def action_units(blendshapes: np.ndarray) -> dict[int, float]:
    """`(52,)` ARKit weights -> AU number -> intensity in [0, 1] (mean of the AU's channels).

    AU25 (lips part) is `jawOpen - mouthClose`, clipped at 0: the mouth opening, not a single channel.
    """
    weights = np.asarray(blendshapes, dtype=np.float32)
    result = {}
    for au in ACTION_UNITS:
        if au.number == 25:
            value = weights[ARKIT_INDEX["jawOpen"]] - weights[ARKIT_INDEX["mouthClose"]]
        else:
            value = np.mean([weights[ARKIT_INDEX[name]] for name in au.arkit])
        result[au.number] = float(np.clip(value, 0.0, 1.0))
    return result
