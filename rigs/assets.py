"""Where the bundled models and samples live (`assets/` at the repository root).

Set `AFFECT_STUDIO_ASSETS` to use another copy, e.g. one rebuilt by `scripts/build_assets.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

from rigs.errors import AffectStudioError

REPO_ROOT = Path(__file__).resolve().parents[1]


def assets_dir() -> Path:
    return Path(os.environ.get("AFFECT_STUDIO_ASSETS", REPO_ROOT / "assets"))


def model_path(filename: str) -> Path:
    """Path of a bundled model file; a clear error if it is missing."""
    path = assets_dir() / "models" / filename
    if not path.is_file():
        raise AffectStudioError(
            f"{path}: bundled model missing; rebuild the assets with `python scripts/build_assets.py`"
        )
    return path


def sample_path(filename: str) -> Path:
    """Path of a bundled sample (portrait, speech, ...)."""
    path = assets_dir() / "samples" / filename
    if not path.is_file():
        raise AffectStudioError(f"{path}: bundled sample missing")
    return path
