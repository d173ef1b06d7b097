"""Talking faces: a portrait + `FaceMotion` -> frames of that face speaking.

    renderer = WarpRenderer(portrait, face, load_canonical_face(), resolution=512)
    for weights, head, eyes in zip(motion.blendshapes, motion.head, motion.eyes):
        writer.write(renderer.render(weights, head, eyes))

One concept per module: the fitted portrait and its control points (`rig`), the dense image warp
(`warp`), the mouth interior (`mouth`), eyelids and gaze (`eyes`), and the renderers with the paste-back
into the whole portrait (`renderer`).
"""

from generation.talking_face.renderer import Renderer, RendererFactory, WarpRenderer, compose
from generation.talking_face.rig import PortraitRig
from generation.talking_face.warp import DenseWarp

__all__ = ["DenseWarp", "PortraitRig", "Renderer", "RendererFactory", "WarpRenderer", "compose"]
