"""Live Link Face (Epic's iPhone app) CSV vocabulary.

The app writes `Timecode,BlendShapeCount,` then 52 blendshapes in PascalCase and 9 head/eye rotations;
`BlendShapeCount` is always 61. Its column order is Apple's except that JawRight comes before JawLeft and
MouthRight before MouthLeft, so files must be written and parsed by name.
"""

from __future__ import annotations

from rigs.arkit import ARKIT_NAMES

ROTATION_NAMES: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip


def livelink_name(arkit_name: str) -> str:
    """`eyeBlinkLeft` -> `EyeBlinkLeft`."""
    return arkit_name[0].upper() + arkit_name[1:]


def _app_blendshape_order() -> tuple[str, ...]:
    names = [livelink_name(n) for n in ARKIT_NAMES]
    for left, right in (("JawLeft", "JawRight"), ("MouthLeft", "MouthRight")):
        i, j = names.index(left), names.index(right)
        names[i], names[j] = names[j], names[i]
    return tuple(names)


BLENDSHAPE_COLUMNS: tuple[str, ...] = _app_blendshape_order()
VALUE_COLUMNS: tuple[str, ...] = BLENDSHAPE_COLUMNS + ROTATION_NAMES
HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount") + VALUE_COLUMNS
BLENDSHAPE_COUNT = len(VALUE_COLUMNS)  # 61, the value the app writes in every row
LIVELINK_TO_ARKIT: dict[str, str] = {livelink_name(n): n for n in ARKIT_NAMES}
