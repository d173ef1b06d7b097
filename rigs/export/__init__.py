"""Exporters: a `FaceMotion` (plus mouth cues and audio metadata) to the files other tools read.

One module per file format, each registering its `Exporter` subclass with `@register` (see `base`). Every
module in this package is imported here, so a new format is one new file and nothing else changes:

    from rigs.export import ExportInput, export_all, available_formats
    export_all(ExportInput(motion, cues, audio_path="speech.wav", name="take1"), "out/", ["livelink", "gltf"])
"""

from __future__ import annotations

import importlib
import pkgutil

from rigs.export.base import (
    Exporter,
    ExportInput,
    available_formats,
    check_formats,
    export_all,
    exporter_classes,
    get_exporter,
    register,
)

__all__ = [
    "ExportInput",
    "Exporter",
    "available_formats",
    "check_formats",
    "export_all",
    "exporter_classes",
    "get_exporter",
    "register",
]


def _discover_formats() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base" and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_discover_formats()
