"""Shared fixtures: the sample portrait and analysis components, built once per test session."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from recognition.image_io import load_image
from rigs.assets import sample_path

# Where the sample portrait's face is, by an independent detector (OpenCV's Haar cascade, as `fer` runs
# it): x, y, width, height in pixels.
PORTRAIT_FACE_XYWH = (177, 66, 95, 95)


@pytest.fixture(scope="session")
def portrait() -> np.ndarray:
    return load_image(sample_path("portrait.png"))


@pytest.fixture(scope="session")
def face_analyzer():
    from recognition.face import FaceAnalyzer

    with FaceAnalyzer() as analyzer:
        yield analyzer


@pytest.fixture(scope="session")
def analysis_pipeline(face_analyzer):
    from recognition.analysis import FaceAnalysisPipeline
    from recognition.identity import IdentityEncoder

    return FaceAnalysisPipeline(face_analyzer, identity=IdentityEncoder())


@pytest.fixture
def mount_tmpfs(tmp_path):
    """`mount_tmpfs(name, size="64k", read_only=False)` -> a fresh tmpfs mounted under tmp_path: a real full
    or read-only disk. Skipped where this process may not mount (not root)."""
    mounted: list[Path] = []

    def mount(name: str, size: str = "64k", read_only: bool = False) -> Path:
        point = tmp_path / name
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)  # lazily: a test may still hold a file open


@pytest.fixture
def read_only_folder(tmp_path, mount_tmpfs):
    """A folder this process cannot write to: a read-only tmpfs for root (who ignores permissions),
    a folder without write permission for everyone else."""
    if os.geteuid() == 0:
        yield mount_tmpfs("read-only", read_only=True)
        return
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    yield folder
    folder.chmod(0o755)
