"""Exporters (`rigs.export`): every format on a synthetic 2 s, 60 fps performance, atomic writes, round trips,
the reference lip-sync metric on the Live Link CSV, and the Khronos glTF validator on the GLB."""

from __future__ import annotations

import csv
import errno
import json
import os
import pickle
import re
import shutil
import stat
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from rigs.errors import AffectStudioError, OutputFileError
from rigs.export import Exporter, ExportInput, available_formats, export_all, get_exporter, register
from rigs.export import base as export_base
from rigs.export.gltf import GltfExporter, animation_duration, head_quaternions
from rigs.export.json_export import read_motion_json
from rigs.export.livelink import ROTATION_UNIT_DEGREES, parse_timecode, read_livelink_csv
from rigs.export.metahuman import ARKIT_TO_METAHUMAN, METAHUMAN_CURVES
from rigs.export.rhubarb import read_rhubarb_json, read_rhubarb_tsv
from rigs.face_mesh import CanonicalFace, load_canonical_face
from rigs.livelink import HEADER
from rigs.motion import FaceMotion
from rigs.visemes import RHUBARB_SHAPES, MouthCue

REPO = Path(__file__).resolve().parents[1]
CLOSURE_SCRIPT = Path("/work/shared/tools/lipsync_closure.py")
FPS = 60
FRAMES = 120  # 2 s
ALL_FORMATS = ["gltf", "json", "livelink", "metahuman", "rhubarb", "rhubarb_json"]


# --- fixtures ------------------------------------------------------------------------------------------------
def synthetic_motion() -> FaceMotion:
    """jawOpen = 0.5 - 0.5 cos(2 pi t) (closed at 0, 1, 2 s; open at 0.5, 1.5 s), a blink at 0.8 s, a smile,
    head yaw sweeping -20 -> 20 degrees with some pitch and roll, eyes wandering."""
    t = np.arange(FRAMES) / FPS
    motion = FaceMotion.still(FRAMES, FPS)
    motion.blendshapes[:, ARKIT_INDEX["jawOpen"]] = 0.5 - 0.5 * np.cos(2 * np.pi * t)
    blink = np.clip(1 - np.abs(t - 0.8) / 0.1, 0, 1)
    motion.blendshapes[:, ARKIT_INDEX["eyeBlinkLeft"]] = blink
    motion.blendshapes[:, ARKIT_INDEX["eyeBlinkRight"]] = blink
    motion.blendshapes[:, ARKIT_INDEX["mouthSmileLeft"]] = 0.3 * t / 2
    motion.blendshapes[:, ARKIT_INDEX["jawLeft"]] = 0.2  # Live Link swaps Jaw/Mouth Left/Right columns
    motion.blendshapes[:, ARKIT_INDEX["mouthRight"]] = 0.1
    motion.head[:, 0] = np.linspace(-20, 20, FRAMES)
    motion.head[:, 1] = 5 * np.sin(np.pi * t)
    motion.head[:, 2] = -3 * t
    motion.eyes[:] = np.stack([8 * np.sin(t), -4 * t, 8 * np.sin(t) + 1, -4 * t], axis=1)
    motion.metadata["seed"] = 7
    return motion


CUES = [MouthCue(0.0, 0.4, "X"), MouthCue(0.45, 0.6, "D"), MouthCue(0.9, 1.1, "A"), MouthCue(1.1, 1.6, "C")]


@pytest.fixture
def data() -> ExportInput:
    return ExportInput(synthetic_motion(), list(CUES), audio_path="speech.wav", emotion="happy", name="take1")


def synthetic_face(rows: int = 12, cols: int = 12, seed: int = 0) -> CanonicalFace:
    """A small valid face-like mesh: a curved grid (cm, facing +z), UVs, and 52 smooth random shapes."""
    u, v = np.meshgrid(np.linspace(0, 1, cols), np.linspace(0, 1, rows))
    x, y = (u - 0.5) * 14, (0.5 - v) * 18
    vertices = np.stack([x, y, 4 - 0.02 * x**2 - 0.01 * y**2], axis=-1).reshape(-1, 3)
    uvs = np.stack([u, v], axis=-1).reshape(-1, 2)
    triangles = []
    for r in range(rows - 1):
        for c in range(cols - 1):
            i = r * cols + c
            triangles += [(i, i + cols, i + 1), (i + 1, i + cols, i + cols + 1)]  # counter-clockwise from +z
    rng = np.random.default_rng(seed)
    amplitude, phase = rng.normal(size=(52, 3)), rng.uniform(0, 2 * np.pi, size=(52, 3, 2))
    basis = (
        amplitude[:, None, :]
        * np.sin(u.reshape(1, -1, 1) * 3 + phase[..., 0][:, None, :])
        * np.cos(v.reshape(1, -1, 1) * 3 + phase[..., 1][:, None, :])
    )
    return CanonicalFace(vertices.astype(np.float32), uvs.astype(np.float32), np.array(triangles, np.int32),
                         (0.3 * basis).astype(np.float32))  # fmt: skip


@pytest.fixture(scope="module")
def face() -> CanonicalFace:
    """The bundled canonical face if its asset is there, else the synthetic one (the asset is built separately)."""
    try:
        return load_canonical_face()
    except AffectStudioError:
        return synthetic_face()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def exporter_for(name: str, face: CanonicalFace) -> Exporter:
    return GltfExporter(face) if name == "gltf" else get_exporter(name)


# --- the interface and registry --------------------------------------------------------------------------
def test_every_format_module_is_discovered_and_registered():
    assert set(ALL_FORMATS) <= set(available_formats())  # a new format module adds to this, nothing else
    suffixes = [get_exporter(name).suffix for name in ALL_FORMATS]
    assert len(set(suffixes)) == len(suffixes)
    for name in ALL_FORMATS:
        exporter = get_exporter(name)
        assert exporter.name == name and exporter.description


def test_unknown_format_lists_the_valid_ones(data, tmp_path):
    with pytest.raises(AffectStudioError, match=r"unknown export format 'fbx'; valid formats: ") as error:
        export_all(data, tmp_path, ["livelink", "fbx"])
    assert str(error.value).endswith(", ".join(available_formats()))
    with pytest.raises(AffectStudioError, match=r"unknown export format 'nope'; valid formats: gltf, json, "):
        get_exporter("nope")
    assert files_in(tmp_path) == []  # nothing written when a name is wrong


def test_registry_refuses_duplicate_suffixes():
    class Clash(Exporter):
        name, suffix, description = "clash", ".csv", "clashes with livelink"

        def render(self, data):
            return ""

    with pytest.raises(ValueError, match="share the suffix"):
        register(Clash)
    assert "clash" not in available_formats()


def test_export_all_writes_every_format(data, tmp_path, face, monkeypatch):
    monkeypatch.setattr("rigs.export.gltf.load_canonical_face", lambda: face)  # the default face, wherever it is
    paths = export_all(data, tmp_path / "out", ALL_FORMATS)
    assert list(paths) == ALL_FORMATS
    expected = {"take1.glb", "take1.json", "take1.csv", "take1.metahuman.csv", "take1.tsv", "take1.rhubarb.json"}
    assert {p.name for p in paths.values()} == expected
    assert files_in(tmp_path / "out") == sorted(expected)  # no temporary files left
    assert all(p.stat().st_size > 0 for p in paths.values())


def test_export_all_in_a_process_pool_writes_the_same_files(data, tmp_path):
    """The rig pipeline hands the formats to the idle phone workers (spawned processes): same bytes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    serial = export_all(data, tmp_path / "serial", ALL_FORMATS)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        pooled = export_all(data, tmp_path / "pool", ALL_FORMATS, executor=pool)
    assert list(pooled) == ALL_FORMATS
    for name in ALL_FORMATS:
        assert pooled[name].parent == tmp_path / "pool"
        assert pooled[name].read_bytes() == serial[name].read_bytes(), name
    assert files_in(tmp_path / "pool") == files_in(tmp_path / "serial")
    # a worker's error reaches the caller whole (the full-disk test in test_bad_input_matrix.py needs it)
    error = pickle.loads(pickle.dumps(OutputFileError(tmp_path / "x.csv", "no space left on device")))
    assert type(error) is OutputFileError and str(error) == f"{tmp_path / 'x.csv'}: no space left on device"


def test_a_failed_export_in_a_pool_waits_for_the_others(data, tmp_path, monkeypatch):
    """A full disk fails one format first: the error must not be reported while the others are still
    writing (their partial files would be left behind when the caller exits)."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import rigs.export.base as base

    finished = []

    def export_one(name, data, path):
        if name == "livelink":
            raise AffectStudioError(f"{path.name}: no space left on device")
        time.sleep(0.3)
        finished.append(name)
        return path

    monkeypatch.setattr(base, "export_one", export_one)
    with ThreadPoolExecutor(3) as pool:
        with pytest.raises(AffectStudioError, match="no space left"):
            export_all(data, tmp_path, ["livelink", "json", "gltf"], executor=pool)
        assert sorted(finished) == ["gltf", "json"]  # checked before the pool's shutdown waits for them


def test_export_refuses_empty_motion_and_bad_names(tmp_path):
    with pytest.raises(AffectStudioError, match="no frames"):
        get_exporter("json").export(ExportInput(FaceMotion.still(0, 30)), tmp_path / "x.json")
    with pytest.raises(AffectStudioError, match="plain file name"):
        export_all(ExportInput(FaceMotion.still(3, 30), name="../escape"), tmp_path, ["json"])


# --- atomic writes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_no_partial_file_when_writing_fails_midway(fmt, data, tmp_path, face, monkeypatch):
    """The whole file has gone to the temporary file when the disk 'fills up': nothing may remain."""

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("rigs.atomic.os.fsync", disk_full)
    exporter = exporter_for(fmt, face)
    with pytest.raises(OutputFileError, match="no space left on device"):
        exporter.export(data, tmp_path / f"take1{exporter.suffix}")
    assert files_in(tmp_path) == []


def test_no_partial_file_when_rendering_fails_midway(data, tmp_path):
    class Flaky(Exporter):  # not registered
        name, suffix, description = "flaky", ".flaky", "writes one chunk, then fails"

        def render(self, data):
            yield "first chunk\n"
            raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        Flaky().export(data, tmp_path / "take1.flaky")
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_output_parent_is_a_file(fmt, data, tmp_path, face):
    (tmp_path / "notafolder").write_text("x")
    with pytest.raises(OutputFileError, match="is a file, not a folder"):
        exporter_for(fmt, face).export(data, tmp_path / "notafolder" / "take1.out")
    assert files_in(tmp_path) == ["notafolder"]


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_read_only_output_folder(fmt, data, read_only_folder, face):
    with pytest.raises(OutputFileError, match="not writable"):
        exporter_for(fmt, face).export(data, read_only_folder / "take1.out")
    assert files_in(read_only_folder) == []


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_permission_denied_creating_the_file(fmt, data, tmp_path, face, monkeypatch):
    """What a read-only folder does even to root-run tests: the temporary file cannot be created."""

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("rigs.atomic.tempfile.mkstemp", denied)
    with pytest.raises(OutputFileError, match="permission denied"):
        exporter_for(fmt, face).export(data, tmp_path / "take1.out")
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("fmt", ["json", "livelink"])
def test_finished_files_get_the_permissions_open_would_give(fmt, data, tmp_path, face):
    """Not the owner-only mode of the temporary file they were written to: shared datasets stay readable."""
    umask = os.umask(0o022)
    os.umask(umask)
    path = exporter_for(fmt, face).export(data, tmp_path / "take1.out")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# --- Live Link Face CSV ----------------------------------------------------------------------------------
def test_livelink_csv_header_rows_and_timecode(data, tmp_path):
    path = get_exporter("livelink").export(data, tmp_path / "take1.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == HEADER
    assert len(rows) == FRAMES + 1
    assert all(len(row) == len(HEADER) and row[1] == "61" for row in rows[1:])
    timecodes = [row[0] for row in rows[1:]]
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d:\d\d\.\d{3}", tc) for tc in timecodes)
    assert timecodes[0] == "00:00:00:00.000" and timecodes[59] == "00:00:00:59.000"
    assert timecodes[60] == "00:00:01:00.000" and timecodes[-1] == "00:00:01:59.000"
    assert [parse_timecode(tc, FPS) for tc in timecodes] == list(range(FRAMES))
    # by name: ARKit jawLeft (index 15) lands in the JawLeft column although the app lists JawRight first
    columns = {name: [float(row[i]) for row in rows[1:]] for i, name in enumerate(rows[0]) if i >= 2}
    assert columns["JawLeft"][0] == pytest.approx(0.2) and columns["JawRight"][0] == 0
    assert columns["MouthRight"][0] == pytest.approx(0.1) and columns["MouthLeft"][0] == 0
    # rotations are degrees / 180 (Live Link's normalised range)
    assert columns["HeadYaw"][0] == pytest.approx(-20 / ROTATION_UNIT_DEGREES, abs=1e-7)
    assert columns["LeftEyeRoll"] == [0.0] * FRAMES


def test_livelink_round_trip(data, tmp_path):
    path = get_exporter("livelink").export(data, tmp_path / "take1.csv")
    motion = read_livelink_csv(path)
    assert motion.fps == FPS and motion.num_frames == FRAMES  # fps inferred from the timecodes
    np.testing.assert_allclose(motion.blendshapes, data.motion.blendshapes, atol=1e-4, rtol=0)
    np.testing.assert_allclose(motion.head, data.motion.head, atol=1e-4, rtol=0)
    np.testing.assert_allclose(motion.eyes, data.motion.eyes, atol=1e-4, rtol=0)
    assert read_livelink_csv(path, fps=30).fps == 30


def test_reference_lipsync_metric_reads_our_csv(data, tmp_path):
    if not CLOSURE_SCRIPT.is_file():
        pytest.skip(f"{CLOSURE_SCRIPT} not present")
    csv_path = get_exporter("livelink").export(data, tmp_path / "take1.csv")
    # flite -psdur style: phone:end_seconds. Jaw closed at 1.0 s (the "m"), open at 0.5 s and 1.5 s ("aa").
    pho = tmp_path / "take1.pho"
    pho.write_text("pau:0.4 aa:0.6 pau:0.9 m:1.1 aa:1.6 pau:2.0\n")
    result = subprocess.run([sys.executable, str(CLOSURE_SCRIPT), str(csv_path), str(pho)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    numbers = [float(x) for x in result.stdout.split()]
    assert len(numbers) == 4
    assert numbers == [1.0, 1.0, 1.0, 2.0]  # bilabial recall, open recall, n bilabials, n open vowels


# --- MetaHuman curves ------------------------------------------------------------------------------------
def test_metahuman_csv_has_the_mapped_columns(data, tmp_path):
    path = get_exporter("metahuman").export(data, tmp_path / "take1.metahuman.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == FRAMES
    header = list(rows[0])
    assert header[:2] == ["frame", "time"] and tuple(header[2:]) == METAHUMAN_CURVES
    for name in ("jawOpen", "eyeBlinkL", "eyeBlinkR", "mouthCornerPullL", "browRaiseInL", "mouthLipsTogetherUL"):
        assert f"CTRL_expressions_{name}" in header
    assert all(name.startswith("CTRL_expressions_") for name in header[2:])
    jaw = np.array([float(r["CTRL_expressions_jawOpen"]) for r in rows])
    np.testing.assert_allclose(jaw, data.motion["jawOpen"], atol=1e-6)
    blink = np.array([float(r["CTRL_expressions_eyeBlinkL"]) for r in rows])
    assert blink.max() == pytest.approx(1.0, abs=1e-6)
    assert float(rows[-1]["time"]) == pytest.approx((FRAMES - 1) / FPS, abs=1e-6)
    # the jaw and mouth Left/Right survive by meaning
    assert float(rows[0]["CTRL_expressions_jawLeft"]) == pytest.approx(0.2)
    assert float(rows[0]["CTRL_expressions_mouthRight"]) == pytest.approx(0.1)


def test_metahuman_mapping_uses_every_arkit_shape():
    used = {arkit for sources in ARKIT_TO_METAHUMAN.values() for arkit, _ in sources}
    assert used == set(ARKIT_NAMES)


# --- glTF ------------------------------------------------------------------------------------------------
def test_glb_loads_back_with_named_morph_targets_and_animation(data, tmp_path, face):
    import pygltflib

    path = GltfExporter(face).export(data, tmp_path / "take1.glb")
    gltf = pygltflib.GLTF2().load(str(path))
    mesh = gltf.meshes[0]
    primitive = mesh.primitives[0]
    assert len(primitive.targets) == 52
    assert mesh.extras["targetNames"] == list(ARKIT_NAMES)
    assert len(mesh.weights) == 52
    position = gltf.accessors[primitive.attributes.POSITION]
    assert position.count == len(face.vertices) and position.min and position.max
    np.testing.assert_allclose(position.max, face.vertices.max(axis=0) * 0.01, rtol=1e-6)
    target_positions = [t["POSITION"] if isinstance(t, dict) else t.POSITION for t in primitive.targets]
    assert all(gltf.accessors[i].min is not None and gltf.accessors[i].max is not None for i in target_positions)
    # morph target deltas are the basis in metres
    blob = gltf.binary_blob()
    jaw_accessor = gltf.accessors[target_positions[ARKIT_INDEX["jawOpen"]]]
    view = gltf.bufferViews[jaw_accessor.bufferView]
    jaw_delta = np.frombuffer(blob, np.float32, jaw_accessor.count * 3, view.byteOffset).reshape(-1, 3)
    np.testing.assert_allclose(jaw_delta, face.basis[ARKIT_INDEX["jawOpen"]] * 0.01, rtol=1e-6, atol=1e-9)
    # the animation: weights on the mesh node, rotation on its parent, both keyed at every frame
    (animation,) = gltf.animations
    assert animation_duration(gltf) == pytest.approx((FRAMES - 1) / FPS, abs=1e-6)
    targets = {(c.target.node, c.target.path) for c in animation.channels}
    face_node = next(i for i, n in enumerate(gltf.nodes) if n.mesh == 0)
    head_node = next(i for i, n in enumerate(gltf.nodes) if face_node in (n.children or []))
    assert targets == {(face_node, "weights"), (head_node, "rotation")}
    for sampler in animation.samplers:
        assert sampler.interpolation == "LINEAR"
        assert gltf.accessors[sampler.input].count == FRAMES
    weights_sampler = animation.samplers[next(c.sampler for c in animation.channels if c.target.path == "weights")]
    assert gltf.accessors[weights_sampler.output].count == FRAMES * 52


def test_head_quaternions_follow_the_documented_axes():
    def rotate(q, v):
        x, y, z, w = q
        u = np.array([x, y, z])
        return v + 2 * np.cross(u, np.cross(u, v) + w * v)

    nose = np.array([0.0, 0.0, 1.0])
    yaw, pitch, roll = head_quaternions(np.array([[90, 0, 0], [0, 90, 0], [0, 0, 90]], float))
    np.testing.assert_allclose(rotate(yaw, nose), [1, 0, 0], atol=1e-6)  # toward +x, the subject's left
    np.testing.assert_allclose(rotate(pitch, nose), [0, -1, 0], atol=1e-6)  # chin down
    np.testing.assert_allclose(rotate(roll, np.array([1.0, 0, 0])), [0, 1, 0], atol=1e-6)  # counter-clockwise
    sweep = head_quaternions(np.column_stack([np.linspace(-179, 179, 50), np.zeros(50), np.zeros(50)]))
    assert np.all(np.sum(sweep[1:] * sweep[:-1], axis=1) > 0)  # one hemisphere: no flips between keys
    np.testing.assert_allclose(np.linalg.norm(sweep, axis=1), 1, atol=1e-6)


def _gltf_validator_dir() -> Path:
    """A folder whose node_modules holds Khronos' gltf-validator (npm), installed on first use into the
    gitignored build/ folder (or $GLTF_VALIDATOR_DIR)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node/npm not installed: cannot run the Khronos glTF validator (npm package gltf-validator)")
    folder = Path(os.environ.get("GLTF_VALIDATOR_DIR", REPO / "build" / "gltf-validator"))
    if not (folder / "node_modules" / "gltf-validator").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(folder), "gltf-validator"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, f"npm install gltf-validator failed:\n{result.stderr[-2000:]}"
    return folder


VALIDATE_JS = """
const validator = require('gltf-validator');
const bytes = new Uint8Array(require('fs').readFileSync(process.argv[1]));
validator.validateBytes(bytes, {maxIssues: 1000})
  .then((report) => console.log(JSON.stringify(report.issues)))
  .catch((error) => { console.error(String(error)); process.exit(2); });
"""


def test_glb_passes_the_khronos_validator(data, tmp_path, face):
    folder = _gltf_validator_dir()
    path = GltfExporter(face).export(data, tmp_path / "take1.glb")
    result = subprocess.run(["node", "-e", VALIDATE_JS, str(path)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "NODE_PATH": str(folder / "node_modules")})  # fmt: skip
    assert result.returncode == 0, result.stderr
    issues = json.loads(result.stdout)
    errors = [m for m in issues["messages"] if m["severity"] == 0]
    assert issues["numErrors"] == 0, errors
    assert issues["numWarnings"] == 0, issues["messages"]


# --- JSON ------------------------------------------------------------------------------------------------
def test_json_round_trips_everything(data, tmp_path):
    path = get_exporter("json").export(data, tmp_path / "take1.json")
    document = json.loads(path.read_text())
    assert document["fps"] == FPS and document["frame_count"] == FRAMES and document["duration"] == 2.0
    assert document["metadata"]["source_audio"] == "speech.wav" and document["metadata"]["emotion"] == "happy"
    assert len(document["channels"]) == 59 and len(document["channels"]["jawOpen"]) == FRAMES
    assert len(path.read_text().splitlines()) < 100  # one line per channel: readable
    back = read_motion_json(path)
    np.testing.assert_allclose(back.motion.blendshapes, data.motion.blendshapes, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.motion.head, data.motion.head, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.motion.eyes, data.motion.eyes, atol=1e-6, rtol=0)
    assert back.motion.fps == FPS and back.motion.metadata == {"seed": 7}
    assert (back.name, back.audio_path, back.emotion) == ("take1", "speech.wav", "happy")
    assert back.mouth_cues == data.mouth_cues


# --- Rhubarb ---------------------------------------------------------------------------------------------
def _assert_covers(cues: list[MouthCue], duration: float) -> None:
    assert cues[0].start == 0.0
    assert cues[-1].end == pytest.approx(round(duration, 2))
    assert all(a.end == pytest.approx(b.start) for a, b in pairwise(cues))
    assert all(c.end > c.start and c.shape in RHUBARB_SHAPES for c in cues)


def test_rhubarb_tsv(data, tmp_path):
    path = get_exporter("rhubarb").export(data, tmp_path / "take1.tsv")
    lines = path.read_text().splitlines()
    assert all(re.fullmatch(r"\d+\.\d\d\t[A-HX]", line) for line in lines)
    assert lines[0] == "0.00\tX" and lines[-1] == "2.00\tX"  # closing rest cue at the end time
    cues = read_rhubarb_tsv(path)
    _assert_covers(cues, data.motion.duration)
    assert [(c.start, c.shape) for c in cues] == [(0.0, "X"), (0.45, "D"), (0.6, "X"), (0.9, "A"), (1.1, "C"),
                                                  (1.6, "X")]  # fmt: skip


def test_rhubarb_json(data, tmp_path):
    path = get_exporter("rhubarb_json").export(data, tmp_path / "take1.rhubarb.json")
    document = json.loads(path.read_text())
    assert set(document) == {"metadata", "mouthCues"}
    assert document["metadata"]["duration"] == 2.0
    assert Path(document["metadata"]["soundFile"]).is_absolute()
    assert Path(document["metadata"]["soundFile"]).name == "speech.wav"
    assert all(set(cue) == {"start", "end", "value"} for cue in document["mouthCues"])
    cues, metadata = read_rhubarb_json(path)
    _assert_covers(cues, data.motion.duration)
    assert cues == read_rhubarb_tsv(get_exporter("rhubarb").export(data, tmp_path / "take1.tsv"))


def test_rhubarb_without_cues_is_one_rest_cue(tmp_path):
    data = ExportInput(FaceMotion.still(45, 30), [], name="quiet")
    assert get_exporter("rhubarb").export(data, tmp_path / "q.tsv").read_text() == "0.00\tX\n1.50\tX\n"
    cues, metadata = read_rhubarb_json(get_exporter("rhubarb_json").export(data, tmp_path / "q.json"))
    assert cues == [MouthCue(0.0, 1.5, "X")] and metadata["soundFile"] == ""


def test_rhubarb_rejects_unknown_shapes(tmp_path):
    data = ExportInput(FaceMotion.still(30, 30), [MouthCue(0.0, 0.5, "Q")])
    with pytest.raises(AffectStudioError, match="not a Rhubarb shape"):
        get_exporter("rhubarb").export(data, tmp_path / "bad.tsv")
    assert files_in(tmp_path) == []


def test_base_module_has_no_format_of_its_own():
    assert not [name for name, cls in export_base._REGISTRY.items() if cls.__module__ == export_base.__name__]
