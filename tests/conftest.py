"""Shared fixtures: the sample portrait and analysis components, built once per test session."""

from __future__ import annotations

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
