"""Synthetic facial-expression datasets (SynFER-style): identities × emotions × intensities × action units ×
head poses -> labelled images, each scored by recognition models and kept, relabelled or rejected.

    from generation.synthetic import DatasetSpec, SyntheticDatasetPipeline

    pipeline = SyntheticDatasetPipeline(DatasetSpec.from_file("assets/specs/example.yaml"))
    result = pipeline.run("out/fer", workers=2)      # resumable; Hugging Face imagefolder layout

One concept per module: the spec (`spec`), the portraits (`identities`), the jobs (`jobs`), rendering a
still (`render`, `augment`), recognition in the loop (`quality`), the job function (`worker`), running it
locally or on Ray (`executors`), writing and resuming (`writer`), the yield report (`report`), the dataset
card (`card`) and the pipeline that ties them together (`pipeline`).
"""

from generation.synthetic.jobs import Job
from generation.synthetic.pipeline import DatasetRunResult, DryRunEstimate, Sample, SyntheticDatasetPipeline
from generation.synthetic.report import YieldReport
from generation.synthetic.spec import AugmentSpec, DatasetSpec, GazeSpec, HeadPoseSpec, QualitySpec, SpecError

__all__ = [
    "AugmentSpec",
    "DatasetRunResult",
    "DatasetSpec",
    "DryRunEstimate",
    "GazeSpec",
    "HeadPoseSpec",
    "Job",
    "QualitySpec",
    "Sample",
    "SpecError",
    "SyntheticDatasetPipeline",
    "YieldReport",
]
