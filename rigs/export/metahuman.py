"""MetaHuman face curves CSV: one row per frame, `frame,time,` then one column per `CTRL_expressions_*` curve.

MetaHuman faces are driven by RigLogic controls whose animation curves are named `CTRL_expressions_<name>`
(values 0-1). The control names below are Epic's: every one appears in Unreal Engine's MetaHuman plugin
(`Engine/Plugins/MetaHuman/MetaHumanCoreTechLib/.../MetaHumanRealtimeSmoothing.cpp`, the per-control
smoothing table of MetaHuman Animator's realtime solver) or in the face archetype's curve list.

Epic converts ARKit curves to these controls with a pose asset (`mh_arkit_mapping_pose`, binary, inside the
MetaHuman content), whose exact blend we cannot read here. `ARKIT_TO_METAHUMAN` is our documented
approximation of it, built by meaning (FACS action units) and matching what public ARKit->MetaHuman
retargeting tools use: each control is a weighted sum of ARKit weights, clipped to [0, 1]; one-sided ARKit
shapes drive the same side's control (`L` = the subject's left, as ARKit's `Left`); symmetric ARKit shapes
drive both sides, and the four lip quadrants (UL/UR/DL/DR) of funnel, purse and lips-together. It is a
retarget, not an identity: a MetaHuman animated from it will look similar to the ARKit performance, not
identical. Head and eye rotation are not face-board curves and are not written (they are in the Live Link,
glTF and JSON exports).
"""

from __future__ import annotations

import io

import numpy as np

from rigs.arkit import ARKIT_INDEX
from rigs.export.base import Exporter, ExportInput, format_cells, register

PREFIX = "CTRL_expressions_"

# MetaHuman control (without PREFIX) -> ((ARKit blendshape, weight), ...). Approximate; see the module doc.
ARKIT_TO_METAHUMAN: dict[str, tuple[tuple[str, float], ...]] = {
    # brows (AU1 inner raise, AU2 outer raise, AU4 lowerer)
    "browDownL": (("browDownLeft", 1.0),),
    "browDownR": (("browDownRight", 1.0),),
    "browRaiseInL": (("browInnerUp", 1.0),),
    "browRaiseInR": (("browInnerUp", 1.0),),
    "browRaiseOuterL": (("browOuterUpLeft", 1.0),),
    "browRaiseOuterR": (("browOuterUpRight", 1.0),),
    # eyelids and cheeks (AU45 blink, AU5 upper lid raise, AU7 lid tightener, AU6 cheek raiser)
    "eyeBlinkL": (("eyeBlinkLeft", 1.0),),
    "eyeBlinkR": (("eyeBlinkRight", 1.0),),
    "eyeWidenL": (("eyeWideLeft", 1.0),),
    "eyeWidenR": (("eyeWideRight", 1.0),),
    "eyeSquintInnerL": (("eyeSquintLeft", 1.0),),
    "eyeSquintInnerR": (("eyeSquintRight", 1.0),),
    "eyeCheekRaiseL": (("cheekSquintLeft", 1.0),),
    "eyeCheekRaiseR": (("cheekSquintRight", 1.0),),
    # gaze: MetaHuman's Left/Right are directions. The subject's left eye looking "in" (toward the nose)
    # looks to the subject's right; the right eye looking in looks to the left.
    "eyeLookUpL": (("eyeLookUpLeft", 1.0),),
    "eyeLookUpR": (("eyeLookUpRight", 1.0),),
    "eyeLookDownL": (("eyeLookDownLeft", 1.0),),
    "eyeLookDownR": (("eyeLookDownRight", 1.0),),
    "eyeLookRightL": (("eyeLookInLeft", 1.0),),
    "eyeLookLeftL": (("eyeLookOutLeft", 1.0),),
    "eyeLookLeftR": (("eyeLookInRight", 1.0),),
    "eyeLookRightR": (("eyeLookOutRight", 1.0),),
    # nose (AU9)
    "noseWrinkleL": (("noseSneerLeft", 1.0),),
    "noseWrinkleR": (("noseSneerRight", 1.0),),
    # jaw (AU26/27 open, AU29 thrust)
    "jawOpen": (("jawOpen", 1.0),),
    "jawLeft": (("jawLeft", 1.0),),
    "jawRight": (("jawRight", 1.0),),
    "jawFwd": (("jawForward", 1.0),),
    # chin raiser (AU17): ARKit splits it into lower and upper lip shrug
    "jawChinRaiseDL": (("mouthShrugLower", 1.0),),
    "jawChinRaiseDR": (("mouthShrugLower", 1.0),),
    "jawChinRaiseUL": (("mouthShrugUpper", 1.0),),
    "jawChinRaiseUR": (("mouthShrugUpper", 1.0),),
    # mouth corners (AU12 smile, AU15 frown, AU14 dimple, AU20 stretch)
    "mouthCornerPullL": (("mouthSmileLeft", 1.0),),
    "mouthCornerPullR": (("mouthSmileRight", 1.0),),
    "mouthCornerDepressL": (("mouthFrownLeft", 1.0),),
    "mouthCornerDepressR": (("mouthFrownRight", 1.0),),
    "mouthDimpleL": (("mouthDimpleLeft", 1.0),),
    "mouthDimpleR": (("mouthDimpleRight", 1.0),),
    "mouthStretchL": (("mouthStretchLeft", 1.0),),
    "mouthStretchR": (("mouthStretchRight", 1.0),),
    # whole-mouth shift
    "mouthLeft": (("mouthLeft", 1.0),),
    "mouthRight": (("mouthRight", 1.0),),
    # lips (AU10 upper lip raiser, AU16 lower lip depressor, AU24 press, AU28 roll in)
    "mouthUpperLipRaiseL": (("mouthUpperUpLeft", 1.0),),
    "mouthUpperLipRaiseR": (("mouthUpperUpRight", 1.0),),
    "mouthLowerLipDepressL": (("mouthLowerDownLeft", 1.0),),
    "mouthLowerLipDepressR": (("mouthLowerDownRight", 1.0),),
    "mouthLipsPressL": (("mouthPressLeft", 1.0),),
    "mouthLipsPressR": (("mouthPressRight", 1.0),),
    "mouthUpperLipRollInL": (("mouthRollUpper", 1.0),),
    "mouthUpperLipRollInR": (("mouthRollUpper", 1.0),),
    "mouthLowerLipRollInL": (("mouthRollLower", 1.0),),
    "mouthLowerLipRollInR": (("mouthRollLower", 1.0),),
    # lip shapes per quadrant (AU22 funnel, AU18 pucker) and lip closure with the jaw open (mouthClose)
    "mouthFunnelUL": (("mouthFunnel", 1.0),),
    "mouthFunnelUR": (("mouthFunnel", 1.0),),
    "mouthFunnelDL": (("mouthFunnel", 1.0),),
    "mouthFunnelDR": (("mouthFunnel", 1.0),),
    "mouthLipsPurseUL": (("mouthPucker", 1.0),),
    "mouthLipsPurseUR": (("mouthPucker", 1.0),),
    "mouthLipsPurseDL": (("mouthPucker", 1.0),),
    "mouthLipsPurseDR": (("mouthPucker", 1.0),),
    "mouthLipsTogetherUL": (("mouthClose", 1.0),),
    "mouthLipsTogetherUR": (("mouthClose", 1.0),),
    "mouthLipsTogetherDL": (("mouthClose", 1.0),),
    "mouthLipsTogetherDR": (("mouthClose", 1.0),),
    # cheeks (AU34 puff) and tongue
    "mouthCheekBlowL": (("cheekPuff", 1.0),),
    "mouthCheekBlowR": (("cheekPuff", 1.0),),
    "tongueOut": (("tongueOut", 1.0),),
}  # fmt: skip

METAHUMAN_CURVES: tuple[str, ...] = tuple(PREFIX + control for control in ARKIT_TO_METAHUMAN)


def metahuman_matrix() -> np.ndarray:
    """`(52, n_curves) float32`: ARKit weights (ARKit order) @ matrix = MetaHuman control values (unclipped)."""
    matrix = np.zeros((len(ARKIT_INDEX), len(ARKIT_TO_METAHUMAN)), dtype=np.float32)
    for j, sources in enumerate(ARKIT_TO_METAHUMAN.values()):
        for arkit, weight in sources:
            matrix[ARKIT_INDEX[arkit], j] += weight
    return matrix


def metahuman_curves(blendshapes: np.ndarray) -> np.ndarray:
    """`(frames, 52)` ARKit weights -> `(frames, len(METAHUMAN_CURVES))` control values in [0, 1]."""
    return np.clip(np.asarray(blendshapes, dtype=np.float32) @ metahuman_matrix(), 0.0, 1.0)


@register
class MetaHumanCurvesExporter(Exporter):
    name = "metahuman"
    suffix = ".metahuman.csv"
    description = "MetaHuman face-control curves CSV (CTRL_expressions_*, approximate ARKit retarget)"

    def render(self, data: ExportInput) -> str:
        motion = data.motion
        values = metahuman_curves(motion.blendshapes)
        out = io.StringIO()
        out.write(",".join(("frame", "time", *METAHUMAN_CURVES)) + "\n")
        cells = format_cells(values, "{:.6f}".format)
        for frame, (time, row) in enumerate(zip(motion.times.tolist(), cells.tolist(), strict=True)):
            out.write(f"{frame},{time:.6f}," + ",".join(row) + "\n")
        return out.getvalue()
