"""The shared vocabulary and the exit: rig channel sets, emotions, FACS tables, curves, exporters.

Every other layer may import `rigs`; `rigs` imports nothing of the project above it.
"""
