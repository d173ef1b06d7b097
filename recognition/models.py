"""The model registry: every bundled model is loaded once per process, by name, and then shared.

    >>> net = models.load("faceapi_expression")   # the same object on every call
    >>> logits = net(crops)                        # (N, 3, 112, 112) float32 -> (N, 7)

The nets run in ONNX Runtime (exported from the PyTorch ports in `recognition/nets/` by
`scripts/export_onnx.py`): one thread per call, and `map_batches` spreads a large batch over the cores.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import onnxruntime as ort

from rigs.assets import model_path

log = logging.getLogger(__name__)


def worker_count() -> int:
    """Parallel workers for batched inference: `AFFECT_STUDIO_THREADS`, else the usable cores."""
    env = os.environ.get("AFFECT_STUDIO_THREADS")
    if env:
        return max(1, int(env))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class OnnxNet:
    """A bundled net in ONNX Runtime: `net(batch) -> output`, both float32 NumPy arrays.

    Small nets use one thread per call (threads inside one call cost more than they save) and
    `map_batches` runs chunks of a large batch concurrently, one core each; a big net (the detector)
    gets `threads` threads per call.
    """

    def __init__(self, filename: str, threads: int = 1):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_path(filename)), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """All outputs for a `float32` batch."""
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """The first output for a `float32` batch."""
        return self.run(batch)[0]

    def map_batches(self, batch: np.ndarray, chunk: int = 32, workers: int | None = None) -> np.ndarray:
        """Same result as `self(batch)`, computed in chunks spread over `workers` threads."""
        workers = workers or worker_count()
        if len(batch) <= chunk or workers == 1:
            return np.concatenate([self(batch[i : i + chunk]) for i in range(0, len(batch), chunk)])
        with ThreadPoolExecutor(workers) as pool:
            return np.concatenate(list(pool.map(self, [batch[i : i + chunk] for i in range(0, len(batch), chunk)])))


LOADERS: dict[str, Callable[[], Any]] = {
    "face_landmarker": lambda: model_path("face_landmarker.task").read_bytes(),
    "faceapi_expression": lambda: OnnxNet("faceapi_expression.onnx"),
    "faceapi_recognition": lambda: OnnxNet("faceapi_recognition.onnx"),
    "fer_mini_xception": lambda: OnnxNet("fer_mini_xception.onnx"),
    "faceapi_ssd_mobilenetv1": lambda: OnnxNet("faceapi_ssd_mobilenetv1.onnx", threads=worker_count()),
}


@functools.cache
def load(name: str) -> Any:
    """The shared instance of model `name` (a key of `LOADERS`), loaded on first use."""
    log.debug("loading model %s", name)
    return LOADERS[name]()
