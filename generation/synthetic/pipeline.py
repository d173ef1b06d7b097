"""`SyntheticDatasetPipeline`: a `DatasetSpec` -> a labelled, recognition-scored facial-expression dataset.

    pipeline = SyntheticDatasetPipeline(DatasetSpec.from_file("assets/specs/example.yaml"))
    jobs = pipeline.jobs()                       # deterministic: identity × emotion × intensity × AUs × image
    sample = pipeline.render_job(jobs[0])        # Sample: image, labels + scores (the record), decision
    result = pipeline.run("out/fer", workers=2)  # DatasetRunResult: yield per class, files; resumable

The recipe: find and check the identities (`identities`), expand the jobs (`jobs`), render each still
(`render`) and score it (`quality`) in workers (`executors`, `worker`), write images, records and the
manifest in job order (`writer`), then rebuild `metadata.jsonl` and write the card (`card`).
Running again on the same folder resumes: finished jobs are skipped, the result is byte-identical.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from generation.synthetic.card import CardData, ParquetExport, write_card, write_report
from generation.synthetic.executors import make_executor
from generation.synthetic.identities import IdentitySet, prepare_identities
from generation.synthetic.jobs import Job, iter_jobs, jobs_per_class
from generation.synthetic.quality import Decision, QualityScorer, QualityScores
from generation.synthetic.report import YieldReport
from generation.synthetic.spec import DatasetSpec
from generation.synthetic.worker import JobRunner, WorkerContext, encode_png
from generation.synthetic.writer import STATE_FORMAT, DatasetWriter, free_bytes
from recognition.face import FaceAnalyzer
from recognition.fer import ExpressionRecognizer
from recognition.identity import IdentityEncoder
from rigs.assets import REPO_ROOT, assets_dir
from rigs.errors import AffectStudioError, OutputFileError

log = logging.getLogger(__name__)

CHUNK = 8  # jobs per task: FER and identity nets run once per chunk
STARTUP_S = {"local": 4.0, "ray": 12.0}  # measured here: spawning workers that load the models; Ray's runtime


@dataclass
class Sample:
    """One rendered and scored job: `image` `(R, R, 3) uint8` RGB, and its `record` (labels, scores and
    decision: one line of `metadata.jsonl`)."""

    job: Job
    image: np.ndarray
    record: dict
    scores: QualityScores
    decision: Decision
    png_compression: int = 1  # the spec's: `png()` gives the bytes a run writes for this job

    @property
    def label(self) -> str:
        return self.decision.label

    def png(self) -> bytes:
        return encode_png(self.image, self.png_compression)


@dataclass
class DatasetRunResult:
    """What a run left in `out_dir`. `report` covers every finished job (all runs); `new_jobs` were made by
    this run, `resumed_jobs` by earlier ones."""

    out_dir: Path
    total_jobs: int  # in the spec
    planned_jobs: int  # the first `limit` of them, or all
    done_jobs: int  # finished, all runs
    new_jobs: int
    resumed_jobs: int
    report: YieldReport
    identities: IdentitySet
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    workers: int = 1
    executor: str = "local"

    @property
    def complete(self) -> bool:
        return self.done_jobs >= self.total_jobs

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Per class: requested, kept, relabelled_in, relabelled_out, rejected, final."""
        return {
            c.emotion: {"requested": c.requested, "kept": c.kept, "relabelled_in": c.relabelled_in,
                        "relabelled_out": c.relabelled_out, "rejected": c.rejected, "final": c.final}
            for c in self.report.rows()
        }  # fmt: skip

    @property
    def images_per_second(self) -> float | None:
        """Jobs made by this run per second of rendering, scoring and writing (not setup)."""
        seconds = self.seconds.get("render, score and write", 0.0)
        return self.new_jobs / seconds if self.new_jobs and seconds > 0 else None


@dataclass
class DryRunEstimate:
    jobs: int
    per_class: dict[str, int]
    identities: IdentitySet
    workers: int
    executor: str
    seconds_per_image: float  # measured here on a few jobs, one core
    fit_seconds: float  # fitting one portrait
    png_bytes: float  # mean PNG size of those jobs
    estimated_seconds: float
    estimated_bytes: float
    free_bytes: int | None


class SyntheticDatasetPipeline:
    """Spec in, dataset out. Models load once (on first use) and are shared by `render_job` and a
    one-worker `run`; worker processes load their own."""

    def __init__(
        self,
        spec: DatasetSpec,
        analyzer: FaceAnalyzer | None = None,
        expressions: ExpressionRecognizer | None = None,
        encoder: IdentityEncoder | None = None,
    ):
        if not isinstance(spec, DatasetSpec):
            raise TypeError(f"expected a DatasetSpec, got {type(spec).__name__}")
        self.spec = spec
        self._owns_analyzer = analyzer is None  # close() closes only what this pipeline made
        self._analyzer = analyzer
        self._expressions = expressions
        self._encoder = encoder
        self._identities: IdentitySet | None = None
        self._jobs: list[Job] | None = None
        self._runner: JobRunner | None = None

    # -- components, built on first use -----------------------------------------------------------------

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            self._analyzer = FaceAnalyzer()
        return self._analyzer

    @property
    def encoder(self) -> IdentityEncoder:
        if self._encoder is None:
            self._encoder = IdentityEncoder()
        return self._encoder

    def identities(self) -> IdentitySet:
        """The usable identities (found once) and the skipped ones with their reasons."""
        if self._identities is None:
            spec = self.spec
            self._identities = prepare_identities(
                spec.identity_paths(), self.analyzer, self.encoder, spec.splits, spec.seed,
                spec.max_identity_yaw, spec.min_face_px,
            )  # fmt: skip
        return self._identities

    def context(self) -> WorkerContext:
        found = self.identities()
        key = hashlib.sha256(
            (
                self.spec.content_fingerprint() + "".join(f"|{i.content_hash}:{i.split}" for i in found.identities)
            ).encode()
        ).hexdigest()
        return WorkerContext(self.spec, found.by_id(), key)

    def runner(self) -> JobRunner:
        if self._runner is None:
            scorer = QualityScorer(expressions=self._expressions, encoder=self.encoder)
            self._runner = JobRunner(self.context(), scorer)
        return self._runner

    # -- jobs ---------------------------------------------------------------------------------------------

    def jobs(self) -> list[Job]:
        """Every job of the spec, in order. Raises `AffectStudioError` when the spec expands to none."""
        if self._jobs is None:
            found = self.identities()
            if not found.identities:
                raise AffectStudioError(f"the spec expands to 0 jobs: {_no_identity_reason(found, self.spec)}")
            self._jobs = list(iter_jobs(self.spec, found.identities))
        return self._jobs

    def render_job(self, job: Job) -> Sample:
        """Render and score one job in this process (a preview: nothing is written)."""
        still, scores, decision, record = self.runner().render_and_score([job])[0]
        return Sample(job, still.image, record, scores, decision, self.spec.png_compression)

    # -- dry run --------------------------------------------------------------------------------------------

    def estimate(
        self, workers: int = 2, executor: str = "local", out_dir: str | Path | None = None, calibration_jobs: int = 4
    ) -> DryRunEstimate:
        """Job count, per-class requests and a rough time and disk estimate from a few jobs made here."""
        jobs = self.jobs()
        found = self.identities()
        runner = self.runner()
        clock = time.perf_counter()
        runner.stills.renderer(jobs[0].identity)
        fit = time.perf_counter() - clock
        picks = [jobs[i] for i in np.linspace(0, len(jobs) - 1, min(calibration_jobs, len(jobs))).astype(int)]
        for job in picks:  # fit every portrait the picks need, outside the timing
            runner.stills.renderer(job.identity)
        clock = time.perf_counter()
        results = runner.run(picks)
        per_image = (time.perf_counter() - clock) / len(picks)
        sizes = [len(r.png) for r in results if r.png is not None]
        if not sizes:  # all rejected: still, an image's size is what a kept one costs
            sizes = [len(encode_png(runner.stills.render(picks[0]).image, self.spec.png_compression))]
        png = float(np.mean(sizes))
        parallel = max(1, workers)
        seconds = len(jobs) * per_image / parallel + len(found.identities) * fit
        if parallel > 1 or executor == "ray":
            seconds += STARTUP_S[executor]
        return DryRunEstimate(
            jobs=len(jobs), per_class=jobs_per_class(self.spec, len(found.identities)), identities=found,
            workers=workers, executor=executor, seconds_per_image=per_image, fit_seconds=fit,
            png_bytes=png, estimated_seconds=seconds, estimated_bytes=png * len(jobs),
            free_bytes=free_bytes(Path(out_dir)) if out_dir is not None else None,
        )  # fmt: skip

    # -- the run --------------------------------------------------------------------------------------------

    @staticmethod
    def check_output(out_dir: str | Path) -> None:
        """Fail early, before any work, if `out_dir` cannot hold this dataset (unwritable, not a folder, or
        a folder of other files)."""
        DatasetWriter(out_dir).check()

    def run(
        self,
        out_dir: str | Path,
        workers: int = 2,
        executor: str = "local",
        ray_address: str | None = None,
        limit: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> DatasetRunResult:
        """Make (or finish) the dataset in `out_dir`. `limit` makes only the first `limit` jobs (a preview;
        run again without it to finish). `progress(done, planned)` is called once at the start (with the
        jobs already done) and after every job. On a full or unwritable disk it stops cleanly with an
        `OutputFileError`; run again to resume."""
        seconds: dict[str, float] = {}
        clock = time.perf_counter()
        out_dir = Path(out_dir)
        self.check_output(out_dir)
        if limit is not None and limit < 1:
            raise AffectStudioError(f"limit must be at least 1, not {limit}")
        jobs = self.jobs()
        found = self.identities()
        context = self.context()
        seconds["identities and jobs"] = time.perf_counter() - clock

        writer = DatasetWriter(out_dir)
        state = {
            "format": STATE_FORMAT,
            "fingerprint": hashlib.sha256(f"{context.key}|{software_fingerprint()}".encode()).hexdigest(),
            "software": software_fingerprint(),
            "spec": self.spec.to_dict(),
            "identities": [i.id for i in found.identities],
        }
        done = set(writer.open(state))
        planned = jobs if limit is None else jobs[:limit]
        pending = [job for job in planned if job.id not in done]
        already = len(planned) - len(pending)
        if pending and already:
            log.info("resuming: %d of %d jobs already done", already, len(planned))
        if progress is not None:
            progress(already, len(planned))

        clock = time.perf_counter()
        made = 0
        try:
            if pending:
                in_process = workers == 1 and executor == "local"
                with _single_threaded_opencv(in_process):
                    if in_process:
                        self.runner().warm_up()  # as worker processes do before the clock starts
                    run = make_executor(executor, workers, context, lambda chunk: self.runner().run(chunk), ray_address)
                    with run:
                        seconds["start workers"] = time.perf_counter() - clock
                        clock = time.perf_counter()
                        for results in run.map(_chunks(pending, CHUNK)):
                            for result in results:
                                writer.write(result)
                                done.add(result.job.id)
                                made += 1
                                if progress is not None:
                                    progress(already + made, len(planned))
        except OutputFileError as error:
            raise OutputFileError(
                error.path,
                f"{error.problem}; stopped cleanly with {already + made} of {len(planned)} jobs done: "
                "fix it and run the same command again to resume",
            ) from None
        finally:
            writer.close()
        seconds["render, score and write"] = time.perf_counter() - clock

        clock = time.perf_counter()
        ordered = [job.id for job in jobs if job.id in done]
        report, card = YieldReport.empty(), CardData()
        parquet = ParquetExport(out_dir) if self.spec.parquet else None
        consumers = [report.add, card.add] + ([parquet.add] if parquet else [])
        files = writer.finish(ordered, consumers)  # one streaming pass over the records
        extra = parquet.close() if parquet else {}
        for stale in (out_dir / "parquet").glob("*.parquet"):
            if stale not in extra.values():
                stale.unlink()
        files.update(extra)
        files["report"] = write_report(out_dir / "report.json", report, found, len(jobs), len(ordered))
        files.update(write_card(out_dir, self.spec, found, report, card, len(jobs), extra))
        seconds["metadata and card"] = time.perf_counter() - clock
        return DatasetRunResult(
            out_dir=out_dir, total_jobs=len(jobs), planned_jobs=len(planned), done_jobs=len(ordered),
            new_jobs=made, resumed_jobs=already, report=report, identities=found, files=files, seconds=seconds,
            workers=workers, executor=executor,
        )  # fmt: skip

    def close(self) -> None:
        """Release the native landmarkers this pipeline made (MediaPipe can hang if the garbage collector
        closes them at an unlucky moment): use `with SyntheticDatasetPipeline(spec) as pipeline:`."""
        if self._runner is not None and self._runner._scorer is not None:
            self._runner.scorer.close()
            self._runner = None
        if self._analyzer is not None and self._owns_analyzer:
            self._analyzer.close()
            self._analyzer = None

    def __enter__(self) -> SyntheticDatasetPipeline:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@functools.cache
def software_fingerprint() -> str:
    """sha256 of what decides an image's pixels and scores besides the spec: the code of the packages a
    job runs through, the bundled models' checksums and the versions of the native libraries. A folder
    started with other software is not resumed (its remaining images would not match the others)."""
    import mediapipe
    import onnxruntime

    digest = hashlib.sha256()
    for package in ("generation/synthetic", "generation/talking_face", "generation/motion", "recognition", "rigs"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    sums = assets_dir() / "SHA256SUMS"
    digest.update(sums.read_bytes() if sums.is_file() else b"")
    digest.update(f"{np.__version__}|{cv2.__version__}|{mediapipe.__version__}|{onnxruntime.__version__}".encode())
    return digest.hexdigest()


def _chunks(jobs: Iterable[Job], size: int) -> Iterator[list[Job]]:
    iterator = iter(jobs)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _single_threaded_opencv:  # noqa: N801 (used as a context manager)
    """One worker means one core: OpenCV's own threads are switched off for the run, then restored."""

    def __init__(self, active: bool):
        self.active = active
        self.saved = cv2.getNumThreads()

    def __enter__(self):
        if self.active:
            cv2.setNumThreads(1)

    def __exit__(self, *exc_info) -> None:
        if self.active:
            cv2.setNumThreads(self.saved)


def _no_identity_reason(found: IdentitySet, spec: DatasetSpec) -> str:
    sources = ", ".join(str(p) for p in spec.identity_paths())
    if found.files_found == 0:
        return f"no image files in {sources} (spec field 'identities')"
    reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in found.skipped[:4])
    more = f"; and {len(found.skipped) - 4} more" if len(found.skipped) > 4 else ""
    return f"none of the {found.files_found} identity image(s) is usable ({reasons}{more})"
