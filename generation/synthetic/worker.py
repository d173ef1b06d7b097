"""The job function every executor runs: a chunk of jobs -> rendered, scored, decided, PNG-encoded results.

    results = JobRunner(context).run(jobs)  # models load on first use, fitted portraits are cached

`WorkerContext` is what a worker needs (the spec and the usable identities) and is sent once per worker.
Results carry the PNG bytes and the record (labels + scores + decision); the driver writes them, in job
order, so the output does not depend on which worker did what.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from generation.synthetic.identities import Identity
from generation.synthetic.jobs import Job
from generation.synthetic.quality import Decision, QualityScorer, QualityScores, decide, expected_blendshapes
from generation.synthetic.render import RenderedStill, StillRenderer
from generation.synthetic.spec import DatasetSpec
from rigs.emotions import CIRCUMPLEX

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    spec: DatasetSpec
    identities: dict[str, Identity]
    key: str  # identifies this spec + identities (part of the output folder's fingerprint)


@dataclass
class JobResult:
    job: Job
    record: dict  # labels, scores and decision; the writer adds `file_name`
    png: bytes | None  # None when the image is not written (rejected, and rejected images are not kept)


def encode_png(image: np.ndarray, compression: int) -> bytes:
    """`(H, W, 3) uint8` RGB -> PNG bytes; no timestamps or text chunks, so equal pixels give equal bytes."""
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits) + 0.0


def make_record(job: Job, identity: Identity, still: RenderedStill, scores: QualityScores, decision: Decision) -> dict:
    """One sample's labels and scores, flat and JSON-ready (the columns of `metadata.jsonl`)."""
    valence, arousal = CIRCUMPLEX[job.emotion]
    pose = identity.face.head_pose
    return {
        "label": decision.label,
        "decision": decision.decision,
        "reason": decision.reason,
        "requested_emotion": job.emotion,
        "intensity": job.intensity,
        "action_units": {f"AU{n:02d}": v for n, v in still.action_units.items()},
        "arkit": [_r(v) for v in still.arkit],
        "valence": _r(valence * job.intensity),
        "arousal": _r(arousal * job.intensity),
        "head_yaw": still.head[0],
        "head_pitch": still.head[1],
        "head_roll": still.head[2],
        "gaze_yaw": still.gaze[0],
        "gaze_pitch": still.gaze[1],
        "portrait_head": [_r(pose.yaw, 2), _r(pose.pitch, 2), _r(pose.roll, 2)],
        "identity": identity.id,
        "identity_file": identity.name,
        "split": job.split,
        "job_id": job.id,
        "job_index": job.index,
        "image_index": job.image,
        "seed": job.seed,
        "flipped": job.augment.flip,
        "augment": job.augment.to_dict(),
        **scores.to_dict(job.emotion),
    }


class JobRunner:
    """Renders and scores jobs in one process; models load on first use and are reused."""

    def __init__(self, context: WorkerContext, scorer: QualityScorer | None = None):
        self.context = context
        self.stills = StillRenderer(context.identities, context.spec.resolution)
        self._scorer = scorer

    @property
    def scorer(self) -> QualityScorer:
        if self._scorer is None:
            self._scorer = QualityScorer()
        return self._scorer

    def warm_up(self) -> None:
        """Load the models and fit every portrait now (workers do this before the clock starts)."""
        _ = self.scorer
        for identity in list(self.context.identities)[: self.stills.cache_size]:
            self.stills.renderer(identity)

    def render_and_score(self, jobs: Sequence[Job]) -> list[tuple[RenderedStill, QualityScores, Decision, dict]]:
        identities = self.context.identities
        stills = [self.stills.render(job) for job in jobs]
        scores = self.scorer.score(
            [s.image for s in stills],
            [expected_blendshapes(s.arkit, s.rest) for s in stills],
            [identities[job.identity].embedding for job in jobs],
        )
        out = []
        for job, still, score in zip(jobs, stills, scores, strict=True):
            decision = decide(score, job.emotion, self.context.spec.quality)
            out.append((still, score, decision, make_record(job, identities[job.identity], still, score, decision)))
        return out

    def run(self, jobs: Sequence[Job]) -> list[JobResult]:
        spec = self.context.spec
        results = []
        for job, (still, _, decision, record) in zip(jobs, self.render_and_score(jobs), strict=True):
            png = None
            if decision.decision != "rejected" or spec.quality.keep_rejected:
                png = encode_png(still.image, spec.png_compression)
                record["image_sha256"] = hashlib.sha256(png).hexdigest()
            results.append(JobResult(job, record, png))
        return results


def configure_worker_threads() -> None:
    """One core per worker: OpenCV and the ONNX helpers stop spreading work over threads of their own."""
    cv2.setNumThreads(1)
    os.environ["AFFECT_STUDIO_THREADS"] = "1"
