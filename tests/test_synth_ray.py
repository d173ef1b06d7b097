"""The Ray executor makes the same dataset as the local one, byte for byte (a local Ray runtime of 2 CPUs)."""

from __future__ import annotations

import pytest

from generation.synthetic import DatasetSpec, SyntheticDatasetPipeline
from rigs.assets import sample_path
from rigs.errors import AffectStudioError
from tests.synth_fixtures import assert_consistent_dataset, assert_same_tree

ray = pytest.importorskip("ray")


def test_ray_output_is_byte_identical_to_the_local_executor(face_analyzer, tmp_path):
    # 1 identity × 2 emotions × 2 images: Ray's start-up (~10 s) dominates, the jobs are a second
    spec = DatasetSpec(
        identities=[str(sample_path("portrait.png"))],
        emotions=["happy", "surprised"],
        images_per_cell=2,
        head_pose={"yaw": [-8, 8]},
        augment={"flip": 0.5, "noise": 2, "jpeg_quality": [70, 90]},
        seed=11,
    )
    with SyntheticDatasetPipeline(spec, analyzer=face_analyzer) as pipeline:
        local = pipeline.run(tmp_path / "local", workers=1, executor="local")
        assert not ray.is_initialized()
        distributed = pipeline.run(tmp_path / "ray", workers=2, executor="ray")
    assert not ray.is_initialized(), "the executor shuts down the runtime it started"
    assert local.total_jobs == distributed.total_jobs == distributed.new_jobs == 4
    assert distributed.workers == 2 and distributed.executor == "ray"
    assert_same_tree(tmp_path / "ray", tmp_path / "local")
    assert len(assert_consistent_dataset(tmp_path / "ray")) == distributed.report.final


def test_bad_executor_options_are_one_line_errors(face_analyzer, tmp_path):
    spec = DatasetSpec(identities=[str(sample_path("portrait.png"))], emotions=["happy"])
    with SyntheticDatasetPipeline(spec, analyzer=face_analyzer) as pipeline:
        with pytest.raises(AffectStudioError, match="--ray-address needs --executor ray"):
            pipeline.run(tmp_path / "a", executor="local", ray_address="ray://nowhere:1")
        with pytest.raises(AffectStudioError, match="unknown executor 'dask'; allowed: local, ray"):
            pipeline.run(tmp_path / "b", executor="dask")
