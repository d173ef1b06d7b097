"""Recognition: faces (landmarks, blendshapes, pose), expressions, identity; later speech and text.

May import `rigs`; never `generation` or `studio`.
"""
