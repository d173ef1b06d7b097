"""Audio-to-motion: phones + emotion (+ the audio's loudness) -> `FaceMotion` on the ARKit rig.

    motion = generate_motion(timeline, emotion_track, audio, MotionConfig(fps=60))

The recipe, one small module per step: visemes with jaw/lip dominance (`visemes`), coarticulation by
dominance blending (`coarticulation`), articulation strength from loudness, the emotion layer from
EMFACS prototypes (`expression`), smoothing that keeps closures, blinks (`blinks`), gaze (`gaze`) and
head motion (`head`). Everything random is seeded.
"""

from generation.motion.pipeline import MotionConfig, generate_motion

__all__ = ["MotionConfig", "generate_motion"]
