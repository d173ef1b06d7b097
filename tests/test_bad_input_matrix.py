"""Every CLI command against every kind of bad input: each answer is one line naming the file or the
option and the problem, exit code 2, no traceback, and nothing partial or corrupted left in the output
folder. Good input with unicode and spaces in its paths works. Read-only and full disks are real
(tmpfs mounts) where this process may mount, as root in CI."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rigs.assets import sample_path
from tests.test_cli_analyze import assert_one_line_error, run_cli

PORTRAIT = sample_path("portrait.png")
SPEECH = sample_path("speech.wav")
PROFILE = sample_path("cameraman.png")


def _wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    """The bad inputs, made once."""
    folder = tmp_path_factory.mktemp("bad inputs")
    rng = np.random.default_rng(0)
    files = {
        "blank.png": None,
        "corrupt.png": rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(),
        "truncated.png": PORTRAIT.read_bytes()[:5000],
        "corrupt.wav": b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" + bytes(200),
        "notes.txt": b"hello, this is not audio",
    }
    for name, data in files.items():
        if data is not None:
            (folder / name).write_bytes(data)
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(folder / "blank.png")
    _wav(folder / "empty.wav", np.zeros(0))
    _wav(folder / "silent.wav", np.zeros(32000))
    (folder / "a folder.wav").mkdir()
    samples = PORTRAIT.parent
    specs = {
        "typo.yaml": f"identities: [{samples}]\nemotoins: [happy]\n",
        "bad_emotion.yaml": f"identities: [{samples}]\nemotions: [happy, joyful]\n",
        "bad_range.yaml": f"identities: [{samples}]\nintensities: [1.5]\n",
        "no_faces.yaml": f"identities: [{PROFILE}]\n",
        "broken.yaml": "identities: [unclosed\n",
    }
    for name, text in specs.items():
        (folder / name).write_text(text)
    paths = {name: folder / name for name in [*files, *specs, "empty.wav", "silent.wav", "a folder.wav"]}
    paths["missing.wav"] = folder / "missing.wav"
    paths["missing.png"] = folder / "missing.png"
    return paths


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


# (command line with {name} placeholders, fragments the error must contain)
MATRIX = [
    # talk: portraits
    (["talk", "{blank.png}", SPEECH], ["blank.png", "no face"]),
    (["talk", "{corrupt.png}", SPEECH], ["corrupt.png"]),
    (["talk", "{truncated.png}", SPEECH], ["truncated.png"]),
    (["talk", "{missing.png}", SPEECH], ["missing.png", "not found"]),
    (["talk", PROFILE, SPEECH], ["cameraman.png", "turned", "degrees"]),
    # talk: audio
    (["talk", PORTRAIT, "{empty.wav}"], ["empty.wav", "no audio"]),
    (["talk", PORTRAIT, "{silent.wav}"], ["silent.wav", "silent"]),
    (["talk", PORTRAIT, "{corrupt.wav}"], ["corrupt.wav"]),
    (["talk", PORTRAIT, "{notes.txt}"], ["notes.txt"]),
    (["talk", PORTRAIT, "{a folder.wav}"], ["a folder.wav", "folder"]),
    (["talk", PORTRAIT], ["speech file", "--text"]),
    # talk: options
    (["talk", PORTRAIT, SPEECH, "--emotion", "joyful"], ["joyful", "neutral, happy"]),
    (["talk", PORTRAIT, SPEECH, "--emotion", "happy:3"], ["3"]),
    (["talk", PORTRAIT, SPEECH, "--emotion-track", "0s:happy,xs:sad"], ["xs"]),
    (["talk", PORTRAIT, SPEECH, "--fps", "33"], ["fps 33", "24, 25, 30, 50, 60"]),
    (["talk", PORTRAIT, SPEECH, "--resolution", "300"], ["300", "256, 512 or 1024"]),
    # rig
    (["rig", "{empty.wav}"], ["empty.wav"]),
    (["rig", "{silent.wav}"], ["silent.wav", "silent"]),
    (["rig", "{corrupt.wav}"], ["corrupt.wav"]),
    (["rig", "{missing.wav}"], ["missing.wav", "not found"]),
    (["rig", SPEECH, "--emotion", "furious"], ["furious"]),
    (["rig", SPEECH, "--emotion", "sad:-1"], ["-1"]),
    (["rig", SPEECH, "--emotion-track", "0s:happy,,2s"], ["bad token", "key 2"]),
    (["rig", SPEECH, "--fps", "120"], ["fps 120"]),
    (["rig", SPEECH, "--formats", "fbx"], ["fbx", "livelink"]),
    # synth
    (["synth", "{typo.yaml}"], ["typo.yaml", "emotoins", "emotions"]),
    (["synth", "{bad_emotion.yaml}"], ["joyful", "neutral"]),
    (["synth", "{bad_range.yaml}"], ["intensities", "1.5"]),
    (["synth", "{no_faces.yaml}"], ["0 jobs", "turned"]),
    (["synth", "{broken.yaml}"], ["broken.yaml", "YAML"]),
    (["synth", "{missing.png}"], ["missing.png", "not found"]),
    # analyze
    (["analyze", "{blank.png}"], ["blank.png", "no face"]),
    (["analyze", "{corrupt.png}"], ["corrupt.png"]),
    (["analyze", "{missing.png}"], ["missing.png", "not found"]),
    (["analyze", "{empty.wav}"], ["empty.wav"]),
]


@pytest.mark.parametrize("args, fragments", MATRIX, ids=[" ".join(str(a) for a in m[0][:2]) for m in MATRIX])
def test_bad_input_is_one_line_and_leaves_nothing(args, fragments, bad, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [bad[a[1:-1]] if isinstance(a, str) and a.startswith("{") else a for a in args]
    if argv[0] in ("talk", "rig", "synth"):
        argv += ["-o", out / "result.mp4" if argv[0] == "talk" else out]
    code = run_cli(argv)
    assert_one_line_error(capsys, code, *fragments)
    assert _files_under(out) == []


def test_output_under_a_file_is_refused_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    for argv, name in (
        (["talk", PORTRAIT, SPEECH, "-o", blocker / "x.mp4"], "x.mp4"),
        (["rig", SPEECH, "-o", blocker / "curves"], "curves"),
        (["synth", PORTRAIT.parents[1] / "specs" / "example.yaml", "-o", blocker / "dataset"], "dataset"),
        (["analyze", PORTRAIT, "--json", blocker / "faces.json"], "faces.json"),
    ):
        assert_one_line_error(capsys, run_cli(argv), name, "is a file, not a folder")
    assert _files_under(tmp_path) == ["blocker"]


def test_unicode_and_spaces_in_paths_work(tmp_path, capsys):
    folder = tmp_path / "dössier ünï 表情"
    folder.mkdir()
    portrait = shutil.copy(PORTRAIT, folder / "my portrait.png")
    speech = shutil.copy(SPEECH, folder / "my speech.wav")
    assert run_cli(["analyze", portrait, "--json", folder / "faces ünï.json"]) == 0
    assert (folder / "faces ünï.json").stat().st_size > 100
    assert run_cli(["rig", speech, "--formats", "livelink,json", "--no-preview", "-o", folder / "curves out"]) == 0
    assert sorted(p.suffix for p in (folder / "curves out").iterdir() if p.suffix in (".csv", ".json")) == [
        ".csv",
        ".json",
    ]


# -- real read-only and full disks ---------------------------------------------------------------------


def test_read_only_folder(read_only_folder, capsys):
    locked = read_only_folder
    for argv, name in (
        (["talk", PORTRAIT, SPEECH, "-o", locked / "x.mp4"], "x.mp4"),
        (["rig", SPEECH, "-o", locked], locked.name),
        (["analyze", PORTRAIT, "--json", locked / "faces.json"], "faces.json"),
    ):
        assert_one_line_error(capsys, run_cli(argv), name, "not writable")
    assert _files_under(locked) == []


def test_full_disk_leaves_no_partial_files(mount_tmpfs, capsys):
    tiny = mount_tmpfs("tiny", size="64k")
    # the .glb alone (52 morph targets) is ~0.3 MB; the video ~0.5 MB
    assert_one_line_error(capsys, run_cli(["rig", SPEECH, "--no-preview", "-o", tiny]), "no space left")
    leftovers = [p for p in _files_under(tiny) if ".part" in p]
    assert leftovers == []
    for p in _files_under(tiny):  # whatever was finished before the disk filled is whole
        assert (tiny / p).stat().st_size > 0
    code = run_cli(["talk", PORTRAIT, SPEECH, "--no-score", "--resolution", "256", "-o", tiny / "video.mp4"])
    assert_one_line_error(capsys, code, "video.mp4", "no space left")
    assert not (tiny / "video.mp4").exists()
    assert [p for p in _files_under(tiny) if ".part" in p] == []
