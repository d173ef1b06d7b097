"""The models the web app shares: each built once per process, on first use, and reused by every request.

Requests run in worker threads, several at a time. What is not thread-safe is guarded here, not in the
tabs: MediaPipe's still-image landmarker (one per `FaceAnalyzer`) and its start-up, which points the
process-wide stderr at /dev/null for a moment, take `LockedFaceAnalyzer`'s lock. Everything else the
pipelines share is safe to call concurrently (ONNX Runtime sessions, PocketSphinx decoders kept per
thread, eSpeak behind its own lock). Per-request settings (resolution, fps, head motion, ...) live in
small config objects, so a pipeline object is built per request around the shared components: that
costs microseconds, loading the components costs seconds.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class LockedFaceAnalyzer:
    """A `FaceAnalyzer` that request threads can share.

    Still images go through the analyzer's one landmarker under a lock. `track` builds a landmarker per
    call (so videos are analysed concurrently); only its start-up, the first step of the iterator, takes
    the lock. Everything else (its `config`, `close`, ...) is the wrapped analyzer's.
    """

    def __init__(self, analyzer):
        self._analyzer = analyzer
        self._lock = threading.Lock()

    def __call__(self, image: np.ndarray):
        with self._lock:
            return self._analyzer(image)

    def track(
        self, frames: Iterable[tuple[float, np.ndarray]], around: tuple[float, float, float, float] | None = None
    ) -> Iterator[tuple[float, np.ndarray, list]]:
        iterator = self._analyzer.track(frames, around)
        with self._lock:
            first = next(iterator, None)
        if first is None:
            return
        yield first
        yield from iterator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._analyzer, name)


class Models:
    """Lazily built, shared components; every accessor is thread-safe and returns the same object."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._built: dict[str, Any] = {}
        self.load_seconds: dict[str, float] = {}

    def _get(self, name: str, build: Callable[[], Any]) -> Any:
        if name in self._built:
            return self._built[name]
        with self._lock:
            if name not in self._built:
                clock = time.perf_counter()
                self._built[name] = build()
                self.load_seconds[name] = time.perf_counter() - clock
                log.info("web app: %s ready in %.1f s", name, self.load_seconds[name])
            return self._built[name]

    def is_loaded(self, name: str) -> bool:
        return name in self._built

    # -- recognition --------------------------------------------------------------------------------------

    def face_analyzer(self) -> LockedFaceAnalyzer:
        from recognition.face import FaceAnalyzer

        return self._get("face_analyzer", lambda: LockedFaceAnalyzer(FaceAnalyzer()))

    def expressions(self):
        from recognition.fer import ExpressionRecognizer

        return self._get("expressions", ExpressionRecognizer)

    def identity(self):
        from recognition.identity import IdentityEncoder

        return self._get("identity", IdentityEncoder)

    def face_analysis(self):
        """`FaceAnalysisPipeline` for the Analyze tab (no identity embeddings: nothing there shows them)."""
        from recognition.analysis import FaceAnalysisPipeline

        return self._get("face_analysis", lambda: FaceAnalysisPipeline(self.face_analyzer(), self.expressions()))

    def speech(self):
        """`SpeechAnalysisPipeline` with its models loaded (text encoder, phone decoders, prosody code)."""
        from recognition.speech_analysis import SpeechAnalysisPipeline

        def build():
            pipeline = SpeechAnalysisPipeline()
            pipeline.load_models()
            return pipeline

        return self._get("speech", build)

    # -- generation ---------------------------------------------------------------------------------------

    def canonical_face(self):
        from rigs.face_mesh import load_canonical_face

        return self._get("canonical_face", load_canonical_face)

    def video_scorer(self):
        """The studio's `VideoScorer` on the shared landmarker, FER and identity nets."""
        from studio.scoring import VideoScorer

        return self._get("video_scorer", lambda: VideoScorer(self.face_analyzer(), self.expressions(), self.identity()))

    def rig_curves(self, motion):
        """A `RigCurvesPipeline` for this `MotionConfig` on the shared speech pipeline (cheap to build:
        the speech pipeline loads its models once)."""
        from generation.rig_curves import RigCurvesPipeline

        return RigCurvesPipeline(speech=self.speech(), motion=motion)

    def talking_face(self, config, scorer: Callable | None = None):
        """A `TalkingFacePipeline` for this `TalkingFaceConfig` on the shared components."""
        from generation.talking_face.pipeline import TalkingFacePipeline

        return TalkingFacePipeline(
            config,
            analyzer=self.face_analyzer(),
            curves=self.rig_curves(config.motion),
            canonical=self.canonical_face(),
            scorer=scorer,
        )

    def score_talking_face(self, result, portrait: np.ndarray):
        """`studio.scoring.score_talking_face` with the shared scorer."""
        from studio.scoring import score_talking_face

        return score_talking_face(result, portrait, scorer=self.video_scorer())

    def warm_up(self, names: Iterable[str] = ("face_analyzer", "expressions", "identity", "speech")) -> None:
        """Build components now (e.g. in a background thread at start-up) instead of on the first request."""
        for name in names:
            getattr(self, name)()


@functools.cache
def shared_models() -> Models:
    """One `Models` per process: every app built in this process shares it."""
    return Models()
