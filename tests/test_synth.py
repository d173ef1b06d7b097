"""Synthetic FER datasets: the spec and its one-line errors, deterministic jobs, augmentations and labels,
recognition-in-the-loop decisions, a real run loaded by `datasets`, bad identities, and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generation.motion.expression import AU_STRENGTHS, expression_prototypes
from generation.synthetic import DatasetSpec, SpecError, SyntheticDatasetPipeline
from generation.synthetic.augment import AugmentParams, apply_augment, colour_matrix, crop
from generation.synthetic.identities import Identity, assign_splits, prepare_identities
from generation.synthetic.jobs import count_jobs, iter_jobs, jobs_per_class
from generation.synthetic.quality import QualityScores, decide, expected_blendshapes
from generation.synthetic.render import expression_weights, mirror_weights
from generation.synthetic.spec import QualitySpec
from generation.talking_face.rig import EXPRESSION_CHANNELS
from recognition.identity import IdentityEncoder
from recognition.image_io import load_image
from rigs.arkit import ARKIT_INDEX
from rigs.assets import REPO_ROOT, sample_path
from rigs.emotions import EMOTIONS
from rigs.errors import AffectStudioError
from tests.synth_fixtures import assert_consistent_dataset, make_identities, tiny_spec, write_spec
from tests.test_cli_analyze import assert_one_line_error, run_cli
from tests.test_mouth_cover import covered

EXAMPLE = REPO_ROOT / "assets" / "specs" / "example.yaml"


@pytest.fixture(scope="module")
def identities_dir(tmp_path_factory) -> Path:
    return make_identities(tmp_path_factory.mktemp("identities"))


@pytest.fixture(scope="module")
def tiny_run(identities_dir, face_analyzer, tmp_path_factory):
    """One real run of the tiny spec (with parquet), shared by the checks below."""
    spec = tiny_spec(identities_dir, parquet=True)
    with SyntheticDatasetPipeline(spec, analyzer=face_analyzer) as pipeline:  # closes its landmarker
        out = tmp_path_factory.mktemp("tiny") / "ds"
        calls = []
        result = pipeline.run(out, workers=1, progress=lambda done, total: calls.append((done, total)))
        yield pipeline, result, out, calls


# -- the spec --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, fragments",
    [
        (
            {"emotions": ["happy", "hapy"]},
            ["'emotions[1]'", "'hapy' (did you mean 'happy'?)", "valid emotions: neutral, happy, sad"],
        ),
        ({"emotions": []}, ["'emotions'", "empty"]),
        ({"emotions": ["joy", "happy"]}, ["'emotions[1]'", "listed twice"]),
        ({"resolution": 300}, ["'resolution'", "allowed: 128, 224, 256, 384, 512, 1024"]),
        ({"intensities": [0.5, 1.5]}, ["'intensities[1]'", "allowed: 0.05 to 1"]),
        ({"head_pose": {"yaw": [-50, 10]}}, ["'head_pose.yaw[0]'", "allowed: -30 to 30"]),
        ({"head_pose": {"yaw": [10, -10]}}, ["'head_pose.yaw'", "minimum is larger"]),
        ({"head_pose": {"yaww": 3}}, ["'head_pose.yaww'", "did you mean 'yaw'", "allowed fields: yaw, pitch, roll"]),
        ({"action_units": [{"AU99": 0.5}]}, ["'action_units[0]'", "allowed AUs: 1, 2, 4, 5"]),
        ({"action_units": [{"AU12": 2}]}, ["'action_units[0].AU12'", "allowed: 0 to 1"]),
        ({"splits": {"train": 0.5, "dev": 0.5}}, ["'splits.dev'", "allowed: train, validation, test"]),
        ({"splits": {"train": 0.5, "test": 0.2}}, ["'splits'", "add up to 0.7"]),
        ({"augment": {"blur": 9}}, ["'augment.blur'", "allowed: 0 to 3"]),
        ({"quality": {"min_identity_cosine": "high"}}, ["'quality.min_identity_cosine'", "expected a number"]),
        ({"images_per_cell": 0}, ["'images_per_cell'", "allowed: 1 to"]),
        ({"images_per_cell": 3, "head_pose": {}, "gaze": {}, "augment": {}}, ["'images_per_cell'", "identical"]),
        ({"identities": []}, ["'identities'", "empty"]),
    ],
)
def test_spec_errors_name_the_field_and_the_allowed_values(fields, fragments):
    data = {"identities": "portraits/", "images_per_cell": 1, **fields}
    with pytest.raises(SpecError) as caught:
        DatasetSpec(**data)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_spec_file_errors_name_the_file_and_field(tmp_path):
    bad_field = tmp_path / "typo.yaml"
    bad_field.write_text("identities: faces/\nemotoins: [happy]\n")
    with pytest.raises(
        SpecError, match=r"typo\.yaml: spec field 'emotoins': unknown field \(did you mean 'emotions'\?\)"
    ):
        DatasetSpec.from_file(bad_field)
    broken = tmp_path / "broken.yaml"
    broken.write_text("identities: [faces/\nemotions: happy\n")
    with pytest.raises(AffectStudioError, match=r"broken\.yaml: not valid YAML or JSON at line \d+"):
        DatasetSpec.from_file(broken)
    missing = tmp_path / "none.yaml"
    with pytest.raises(AffectStudioError, match="spec file not found"):
        DatasetSpec.from_file(missing)
    no_identities = tmp_path / "empty_ids.yaml"
    no_identities.write_text("emotions: [happy]\n")
    with pytest.raises(SpecError, match="'identities': missing"):
        DatasetSpec.from_file(no_identities)


def test_example_spec_loads_resolves_identities_and_round_trips():
    spec = DatasetSpec.from_file(EXAMPLE)
    assert spec.identity_paths() == [REPO_ROOT / "assets" / "samples"]
    assert spec.emotions == EMOTIONS and spec.intensities == (0.6, 1.0)
    assert spec.action_units == ({}, {25: 0.5})
    assert spec.head_pose.yaw == (-12.0, 12.0) and spec.augment.jpeg_quality == (60, 95)
    again = DatasetSpec.from_dict(spec.to_dict(), base_dir=spec.base_dir)
    assert again == spec and again.content_fingerprint() == spec.content_fingerprint()
    assert replace(spec, seed=1).content_fingerprint() != spec.content_fingerprint()
    assert replace(spec, name="renamed").content_fingerprint() == spec.content_fingerprint()
    # neutral has no intensity: 1 + 6 emotions × 2 intensities, × 2 AU combinations
    assert spec.cells_per_identity() == (1 + 6 * 2) * 2
    assert DatasetSpec(identities="x", emotions=("Fear", "joy")).emotions == ("fearful", "happy")


# -- jobs ------------------------------------------------------------------------------------------------


def _fake_identities(n: int, split: str = "train") -> list[Identity]:
    return [Identity(f"id{i:010d}", Path(f"p{i}.png"), f"{i:064x}", None, None, split) for i in range(n)]


def test_jobs_are_deterministic_counted_and_stable():
    spec = DatasetSpec.from_file(EXAMPLE)
    ids = _fake_identities(3)
    jobs = list(iter_jobs(spec, ids))
    assert len(jobs) == count_jobs(spec, 3) == 3 * 26 * 4
    assert [j.index for j in jobs] == list(range(len(jobs)))
    assert len({j.id for j in jobs}) == len(jobs) and len({j.seed for j in jobs}) == len(jobs)
    assert jobs == list(iter_jobs(spec, ids))  # same spec, same jobs, field by field
    per_class = jobs_per_class(spec, 3)
    assert sum(per_class.values()) == len(jobs)
    assert per_class == {e: sum(j.emotion == e for j in jobs) for e in EMOTIONS}
    assert {j.intensity for j in jobs if j.emotion == "neutral"} == {0.0}
    for job in jobs:  # draws stay inside the spec's ranges
        assert -12 <= job.head[0] <= 12 and -8 <= job.head[1] <= 8 and -10 <= job.gaze[0] <= 10
        assert 0.85 <= job.augment.crop_scale <= 1.0 and 60 <= job.augment.jpeg_quality <= 95
    assert 0.3 < np.mean([j.augment.flip for j in jobs]) < 0.7

    # a job's id, seed and draws depend on its own cell only: dropping an emotion or an identity keeps them
    fewer = list(iter_jobs(replace(spec, emotions=("happy", "sad")), ids[1:]))
    by_id = {j.id: j for j in jobs}
    assert all(by_id[j.id].head == j.head and by_id[j.id].augment == j.augment for j in fewer)
    # a new seed is a new dataset
    assert not {j.id for j in iter_jobs(replace(spec, seed=1), ids)} & set(by_id)


def test_splits_are_by_identity_and_follow_the_fractions():
    ids = [f"id{i}" for i in range(10)]
    assignment = assign_splits(ids, {"train": 0.7, "validation": 0.1, "test": 0.2}, seed=0)
    assert sorted(assignment) == ids
    counts = {s: list(assignment.values()).count(s) for s in ("train", "validation", "test")}
    assert counts == {"train": 7, "validation": 1, "test": 2}
    assert assign_splits(ids[::-1], {"train": 0.7, "validation": 0.1, "test": 0.2}, seed=0) == assignment
    assert assign_splits(ids, {"train": 0.7, "validation": 0.1, "test": 0.2}, seed=1) != assignment


# -- rendering labels and augmentations -------------------------------------------------------------------


def test_expression_weights_scale_the_prototype_and_add_explicit_aus():
    full, aus_full = expression_weights("happy", 1.0, ())
    half, aus_half = expression_weights("happy", 0.5, ())
    smile = ARKIT_INDEX["mouthSmileLeft"]
    np.testing.assert_allclose(full, expression_prototypes()[EMOTIONS.index("happy")])
    assert full[smile] > 0.2 and half[smile] == pytest.approx(full[smile] / 2)
    strength = AU_STRENGTHS["happy"][12]
    assert aus_full[12] == pytest.approx(strength) and aus_half[12] == pytest.approx(strength / 2)
    assert aus_half[1] == 0.0
    neutral, aus = expression_weights("neutral", 0.0, ((25, 0.6), (1, 0.3)))
    assert neutral[ARKIT_INDEX["jawOpen"]] == pytest.approx(0.6) and neutral[ARKIT_INDEX["mouthClose"]] == 0
    assert neutral[ARKIT_INDEX["browInnerUp"]] == pytest.approx(0.3)
    assert aus[25] == 0.6 and aus[1] == 0.3 and set(aus) >= {1, 2, 4, 45}


def test_mirroring_swaps_left_and_right_channels():
    weights = np.zeros(52, np.float32)
    weights[ARKIT_INDEX["eyeBlinkLeft"]] = 0.9
    weights[ARKIT_INDEX["mouthLeft"]] = 0.4
    weights[ARKIT_INDEX["jawOpen"]] = 0.3
    mirrored = mirror_weights(weights)
    assert mirrored[ARKIT_INDEX["eyeBlinkRight"]] == pytest.approx(0.9) and mirrored[ARKIT_INDEX["eyeBlinkLeft"]] == 0
    assert mirrored[ARKIT_INDEX["mouthRight"]] == pytest.approx(0.4)
    assert mirrored[ARKIT_INDEX["jawOpen"]] == pytest.approx(0.3)
    np.testing.assert_array_equal(mirror_weights(mirrored), weights)


def test_colour_augmentation_is_the_documented_sequence_of_operations():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    params = AugmentParams(brightness=0.05, contrast=1.2, saturation=0.7, hue=10.0, white_balance=(1.05, 1.0, 0.9))
    # reference: one step at a time, in float
    x = image.astype(np.float64)
    yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    c, s = np.cos(np.radians(10.0)), np.sin(np.radians(10.0))
    x = x @ (np.linalg.inv(yiq) @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]]) @ yiq).T
    x = x * np.array([1.05, 1.0, 0.9])
    grey = x @ np.array([0.299, 0.587, 0.114])
    x = grey[..., None] + (x - grey[..., None]) * 0.7
    x = (x - grey.mean()) * 1.2 + grey.mean() + 0.05 * 255
    expected = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    got = apply_augment(image, params, seed=0)
    assert np.abs(got.astype(int) - expected).max() <= 1
    matrix = colour_matrix(AugmentParams(), np.array([100.0, 100.0, 100.0]))
    np.testing.assert_allclose(matrix, np.hstack([np.eye(3), np.zeros((3, 1))]), atol=1e-6)


def test_augmentations_are_deterministic_and_geometric_ones_behave():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert apply_augment(image, AugmentParams(), seed=5) is image
    noisy = AugmentParams(noise=5.0, blur=0.8, jpeg_quality=70, lighting=0.3, lighting_angle=40.0)
    np.testing.assert_array_equal(apply_augment(image, noisy, 7), apply_augment(image, noisy, 7))
    assert not np.array_equal(apply_augment(image, noisy, 7), apply_augment(image, noisy, 8))
    np.testing.assert_array_equal(apply_augment(image, AugmentParams(flip=True), 0), image[:, ::-1])
    np.testing.assert_array_equal(crop(image, 1.0, (0.0, 0.0)), image)
    zoomed = crop(image, 0.5, (0.0, 0.0))
    assert zoomed.shape == image.shape
    # the centre pixel stays in the centre; the corners come from a quarter of the way in
    assert np.abs(zoomed[32, 32].astype(int) - image[32, 32]).max() < 60


# -- quality decisions -------------------------------------------------------------------------------------


def _scores(requested_p: float, top: str | None = None, top_p: float = 0.0, cosine=0.95, error=0.1) -> QualityScores:
    probabilities = np.zeros(7, np.float32)
    probabilities[EMOTIONS.index("sad")] = requested_p
    if top:
        probabilities[EMOTIONS.index(top)] = top_p
    return QualityScores(True, probabilities, cosine, error, (0.0, 0.0, 0.0))


def test_decisions_follow_the_thresholds():
    quality = QualitySpec(min_emotion_probability=0.4, min_relabel_probability=0.6, min_identity_cosine=0.8,
                          max_blendshape_error=0.3)  # fmt: skip
    assert decide(_scores(0.5), "sad", quality).decision == "kept"
    relabelled = decide(_scores(0.1, "fearful", 0.7), "sad", quality)
    assert (relabelled.decision, relabelled.label) == ("relabelled", "fearful")
    assert decide(_scores(0.1, "fearful", 0.5), "sad", quality).decision == "rejected"
    assert decide(_scores(0.1, "fearful", 0.7), "sad", replace(quality, relabel=False)).decision == "rejected"
    assert "identity cosine 0.70 < 0.8" in decide(_scores(0.9, cosine=0.7), "sad", quality).reason
    assert "blendshape error 0.45 > 0.3" in decide(_scores(0.9, error=0.45), "sad", quality).reason
    assert decide(QualityScores(False), "sad", quality).reason == "no face re-detected"


def test_expected_blendshapes_add_the_portraits_own_reading_to_offset_channels():
    arkit, rest = np.zeros(52, np.float32), np.full(52, 0.2, np.float32)
    arkit[ARKIT_INDEX["mouthSmileLeft"]] = 0.5  # an expression channel: absolute
    arkit[ARKIT_INDEX["jawOpen"]] = 0.3  # a speech channel: on top of the photo
    expected = expected_blendshapes(arkit, rest)
    assert expected[ARKIT_INDEX["mouthSmileLeft"]] == pytest.approx(0.5)
    assert expected[ARKIT_INDEX["jawOpen"]] == pytest.approx(0.5)
    assert ARKIT_INDEX["mouthSmileLeft"] in EXPRESSION_CHANNELS


# -- identities and a real run -------------------------------------------------------------------------------


def test_an_identity_with_a_covered_mouth_is_skipped(face_analyzer, tmp_path):
    picture = load_image(sample_path("portrait.png"))
    Image.fromarray(picture).save(tmp_path / "a_portrait.png")
    Image.fromarray(covered(picture, face_analyzer(picture)[0].landmarks, "cheek")).save(tmp_path / "b_hand.png")
    found = prepare_identities([tmp_path], face_analyzer, IdentityEncoder())
    assert [i.path.name for i in found.identities] == ["a_portrait.png"]
    assert [(s.path.name, s.reason) for s in found.skipped] == [
        ("b_hand.png", "the mouth looks covered (the lips are no redder than the skin around them)")
    ]


def test_bad_and_duplicate_identities_are_skipped_with_reasons(identities_dir, face_analyzer):
    with SyntheticDatasetPipeline(tiny_spec(identities_dir), analyzer=face_analyzer) as pipeline:
        found = pipeline.identities()
    assert [i.path.name for i in found.identities] == ["a_portrait.png", "b_hopper.jpg"]
    reasons = {s.path.name: s.reason for s in found.skipped}
    assert set(reasons) == {"c_cameraman.png", "d_portrait_copy.png", "e_broken.jpg"}
    assert "turned 5" in reasons["c_cameraman.png"] and "max_identity_yaw" in reasons["c_cameraman.png"]
    assert reasons["d_portrait_copy.png"] == "duplicate of a_portrait.png (same pixels)"
    assert "corrupt" in reasons["e_broken.jpg"] or "not an image" in reasons["e_broken.jpg"]
    assert [d.duplicate_of.name for d in found.duplicates] == ["a_portrait.png"]
    assert found.files_found == 5  # notes.txt is not an image
    assert (identities_dir / "d_portrait_copy.png").read_bytes() != (identities_dir / "a_portrait.png").read_bytes()


def test_a_real_run_loads_with_datasets_imagefolder(tiny_run):
    import datasets

    pipeline, result, out, calls = tiny_run
    assert result.total_jobs == result.done_jobs == result.new_jobs == 12 and result.complete
    assert calls[0] == (0, 12) and calls[-1] == (12, 12) and len(calls) == 13
    lines = assert_consistent_dataset(out)
    report = result.report
    assert report.requested == 12 and report.final + report.rejected == 12 == len(lines) + report.rejected
    assert len((out / "rejected.jsonl").read_text().splitlines()) == report.rejected

    ds = datasets.load_dataset("imagefolder", data_dir=str(out))
    assert list(ds) == ["train"]
    train = ds["train"]
    assert train.num_rows == report.final == len(lines)
    assert train["label"] == [line["label"] for line in lines]  # job order, exact labels
    assert train["job_id"] == [line["job_id"] for line in lines]
    assert set(train["label"]) <= set(EMOTIONS)
    first = train[0]
    assert first["image"].size == (256, 256) and len(first["arkit"]) == 52 and len(first["fer_probabilities"]) == 7
    for line in lines:  # each image sits in the folder of its label and its record says why
        assert line["file_name"].split("/")[0] == line["label"]
        assert line["decision"] in ("kept", "relabelled")
        assert line["decision"] == "kept" or line["label"] != line["requested_emotion"]
        if line["flipped"]:
            assert line["head_yaw"] == -next(j.head[0] for j in pipeline.jobs() if j.id == line["job_id"])
    encoded = train.class_encode_column("label")
    assert encoded.features["label"].names == sorted(set(train["label"]))

    # counts per class add up, and the card and report.json say so
    for name, counts in result.counts.items():
        assert counts["final"] == sum(line["label"] == name for line in lines)
    saved = json.loads((out / "report.json").read_text())
    assert saved["final"] == report.final and saved["rejected"] == report.rejected and saved["complete"]
    assert {s["file"] for s in saved["skipped_identities"]} == {
        "c_cameraman.png",
        "d_portrait_copy.png",
        "e_broken.jpg",
    }
    card = (out / "README.md").read_text()
    assert "task_categories:" in card and "path: train/**" in card and "## Classes: yield and balance" in card
    assert "c_cameraman.png" in card and "duplicate of a_portrait.png" in card
    assert (out / "card" / "examples.png").stat().st_size > 10_000 and (out / "card" / "scores.png").exists()


def test_parquet_export_matches_the_images(tiny_run):
    import pyarrow.parquet as pq

    _, result, out, _ = tiny_run
    table = pq.read_table(out / "parquet" / "train.parquet")
    assert table.num_rows == result.report.final
    rows = table.to_pylist()
    for row in rows[:4]:
        assert row["image"]["bytes"] == (out / row["image"]["path"]).read_bytes()
        assert row["label"] == row["image"]["path"].split("/")[1]
    import datasets

    loaded = datasets.load_dataset("parquet", data_files={"train": str(out / "parquet" / "train.parquet")})
    loaded = loaded.cast_column("image", datasets.Image())
    assert loaded["train"].num_rows == table.num_rows and loaded["train"][0]["image"].size == (256, 256)


def test_render_job_previews_exactly_what_the_run_wrote(tiny_run):
    pipeline, _, out, _ = tiny_run
    lines = {line["job_id"]: line for line in assert_consistent_dataset(out)}
    job = next(j for j in pipeline.jobs() if j.id in lines)
    sample = pipeline.render_job(job)
    assert sample.png_compression == pipeline.spec.png_compression == 1
    assert sample.image.shape == (256, 256, 3) and sample.image.dtype == np.uint8
    assert sample.label == lines[job.id]["label"] and sample.record["fer_top"] == lines[job.id]["fer_top"]
    assert sample.png() == (out / "train" / lines[job.id]["file_name"]).read_bytes()


def test_a_finished_run_is_not_redone_and_limit_makes_a_prefix(tiny_run, identities_dir, face_analyzer, tmp_path):
    pipeline, result, out, _ = tiny_run
    again = pipeline.run(out, workers=1)
    assert again.new_jobs == 0 and again.resumed_jobs == 12 and again.report.final == result.report.final
    with SyntheticDatasetPipeline(tiny_spec(identities_dir), analyzer=face_analyzer) as fresh:
        partial = fresh.run(tmp_path / "p", limit=5, workers=1)
    assert (partial.done_jobs, partial.total_jobs, partial.complete) == (5, 12, False)
    assert "**partial**: 5 of 12" in (tmp_path / "p" / "README.md").read_text()
    assert_consistent_dataset(tmp_path / "p")
    first_five = [job.id for job in pipeline.jobs()[:5]]
    assert (tmp_path / "p" / ".synth" / "manifest.txt").read_text().split() == first_five


def test_a_folder_from_another_spec_is_not_resumed(tiny_run, identities_dir, face_analyzer):
    _, _, out, _ = tiny_run
    with SyntheticDatasetPipeline(tiny_spec(identities_dir, seed=4), analyzer=face_analyzer) as other:
        with pytest.raises(AffectStudioError, match="started by a different run .*changed: seed"):
            other.run(out, workers=1)


def test_a_spec_with_no_usable_identity_is_an_error(tmp_path, face_analyzer):
    import shutil

    from rigs.assets import sample_path

    only_profile = tmp_path / "profiles"
    only_profile.mkdir()
    shutil.copy(sample_path("cameraman.png"), only_profile)
    with pytest.raises(AffectStudioError, match=r"expands to 0 jobs: none of the 1 identity image\(s\) .*turned"):
        SyntheticDatasetPipeline(tiny_spec(only_profile), analyzer=face_analyzer).jobs()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AffectStudioError, match="expands to 0 jobs: no image files in"):
        SyntheticDatasetPipeline(tiny_spec(empty), analyzer=face_analyzer).jobs()
    with pytest.raises(AffectStudioError, match="identity file or folder not found"):
        SyntheticDatasetPipeline(tiny_spec(tmp_path / "nowhere"), analyzer=face_analyzer).jobs()


# -- the command line ----------------------------------------------------------------------------------------


def test_cli_dry_run_prints_the_job_count_and_an_estimate(identities_dir, tmp_path, capsys):
    spec = write_spec(tmp_path / "tiny.json", tiny_spec(identities_dir))
    assert run_cli(["synth", spec, "-o", tmp_path / "out", "--dry-run", "--workers", "2"]) == 0
    printed = capsys.readouterr().out
    assert "dry run: 12 jobs" in printed and "12 jobs = 2 identities × 3 cells × 2 images per cell" in printed
    assert "estimated time: ~" in printed and "estimated disk" in printed
    assert not (tmp_path / "out").exists()


def test_cli_errors_are_one_line(identities_dir, tmp_path, capsys):
    spec = write_spec(tmp_path / "tiny.json", tiny_spec(identities_dir))
    blocker = tmp_path / "a_file"
    blocker.write_text("in the way")
    code = run_cli(["synth", spec, "-o", blocker / "out"])
    assert_one_line_error(capsys, code, "a_file/out", "a_file is a file, not a folder")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    assert_one_line_error(capsys, run_cli(["synth", spec, "-o", foreign]), "is not empty", "was not made by synth")
    assert_one_line_error(capsys, run_cli(["synth", spec, "-o", tmp_path / "o", "--executor", "spark"]),
                          "--executor 'spark' is not allowed; allowed: local, ray")  # fmt: skip
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"identities: {identities_dir}\nresolution: 300\n")
    assert_one_line_error(capsys, run_cli(["synth", bad, "-o", tmp_path / "o"]), "'resolution'", "allowed: 128")
    zero = tmp_path / "zero.yaml"
    (tmp_path / "no_faces").mkdir()
    zero.write_text(json.dumps({"identities": str(tmp_path / "no_faces")}))
    assert_one_line_error(capsys, run_cli(["synth", zero, "-o", tmp_path / "o"]), "expands to 0 jobs")


def test_cli_help_teaches_with_examples(capsys):
    assert run_cli(["synth", "--help"]) == 0
    text = capsys.readouterr().out
    assert "assets/specs/example.yaml" in text and "--dry-run" in text and "resumable" in text
