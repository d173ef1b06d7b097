"""The model registry: every bundled model is loaded once per process, by name, and then shared.

    >>> net = models.load("faceapi_expression")   # the same object on every call
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from rigs.assets import model_path

log = logging.getLogger(__name__)


def _face_landmarker_bytes() -> bytes:
    return model_path("face_landmarker.task").read_bytes()


def _faceapi_expression():
    from recognition.nets.faceapi_expression import FaceExpressionNet

    return FaceExpressionNet.from_safetensors(model_path("faceapi_expression.safetensors"))


def _faceapi_recognition():
    from recognition.nets.faceapi_recognition import FaceRecognitionNet

    return FaceRecognitionNet.from_safetensors(model_path("faceapi_recognition.safetensors"))


def _fer_mini_xception():
    from recognition.nets.mini_xception import MiniXception

    return MiniXception.from_safetensors(model_path("fer_mini_xception.safetensors"))


LOADERS: dict[str, Callable[[], Any]] = {
    "face_landmarker": _face_landmarker_bytes,
    "faceapi_expression": _faceapi_expression,
    "faceapi_recognition": _faceapi_recognition,
    "fer_mini_xception": _fer_mini_xception,
}


@functools.cache
def load(name: str) -> Any:
    """The shared instance of model `name` (a key of `LOADERS`), loaded on first use."""
    log.debug("loading model %s", name)
    return LOADERS[name]()
