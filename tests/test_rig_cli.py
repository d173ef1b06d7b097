"""`affect-studio rig`: speech or text -> curves in every format; bad options get one line."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from recognition.tts import synthesize
from rigs.export.livelink import read_livelink_csv
from rigs.livelink import HEADER
from tests.test_cli_analyze import assert_one_line_error, run_cli

LINE = "Bob and Pam bought a big apple pie, maybe more."
CLOSURE_SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "tools" / "lipsync_closure.py"


@pytest.fixture(scope="module")
def line_wav(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rig")
    speech = synthesize(LINE, "espeak:en-us")
    speech.save_wav(folder / "line.wav")
    return folder / "line.wav", speech.phones


def test_rig_from_audio_with_transcript_writes_every_format(line_wav, tmp_path, capsys):
    wav, true_phones = line_wav
    out = tmp_path / "curves"
    code = run_cli(["rig", wav, "--text", LINE, "--emotion", "happy:0.8", "--fps", "30", "-o", out, "--no-preview"])
    assert code == 0, capsys.readouterr().err
    names = {p.name for p in out.iterdir()}
    for expected in (
        "line.csv",
        "line.metahuman.csv",
        "line.glb",
        "line.json",
        "line.tsv",
        "line.rhubarb.json",
        "line_curves.png",
    ):
        assert expected in names
    with open(out / "line.csv", newline="") as f:
        assert next(csv.reader(f)) == list(HEADER)
    motion = read_livelink_csv(out / "line.csv", fps=30)
    assert motion.fps == 30 and motion.num_frames == pytest.approx(true_phones.duration * 30, abs=2)
    assert motion["mouthSmileLeft"].mean() > 0.4  # happy
    meta = json.loads((out / "line.json").read_text())
    assert meta["metadata"]["emotion"] == "happy:0.8"
    printed = capsys.readouterr()
    assert "x real time" in printed.out and "motion" in printed.out
    told = " ".join((printed.out + printed.err).split())
    assert "is animated; --text is used as its transcript" in told  # which of the two wins is said


@pytest.mark.skipif(not CLOSURE_SCRIPT.exists(), reason="shared/tools/lipsync_closure.py not beside the repo")
def test_reference_closure_metric_on_tts_speech(tmp_path, capsys):
    """The project's reference metric, on speech whose phone timings are known (flite)."""
    import shutil

    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    wav, pho = tmp_path / "s.wav", tmp_path / "s.pho"
    text = "My mother bought a big apple pie for Bob and Pam, but the puppy ate it."
    done = subprocess.run(
        ["flite", "-voice", "kal16", "-t", text, "-o", str(wav), "-psdur"], capture_output=True, text=True, check=True
    )
    pho.write_text(done.stdout)
    assert run_cli(["rig", wav, "--text", text, "--formats", "livelink", "-o", tmp_path / "o", "--no-preview"]) == 0
    result = subprocess.run(
        [sys.executable, CLOSURE_SCRIPT, tmp_path / "o" / "s.csv", pho], capture_output=True, text=True, check=True
    ).stdout.split()
    bilabial_recall, open_recall = float(result[0]), float(result[1])
    assert int(result[2]) >= 8
    assert bilabial_recall >= 0.95 and open_recall >= 0.9


def test_rig_from_text_alone_speaks_first(tmp_path, capsys):
    out = tmp_path / "t"
    assert run_cli(["rig", "--text", "Hello there!", "--formats", "livelink,rhubarb", "-o", out, "--no-preview"]) == 0
    assert (out / "speech.wav").stat().st_size > 10_000 and (out / "speech.csv").exists()
    assert not (out / "speech.glb").exists()


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--emotion", "blissful"], ["unknown emotion 'blissful'", "valid emotions"]),
        (["--emotion", "happy:3"], ["out of range"]),
        (["--emotion-track", "0s:happy,1q:sad"], ["'1q:sad'"]),
        (["--emotion", "happy", "--emotion-track", "0s:sad"], ["choose one of"]),
        (["--valence", "0.5"], ["both --valence and --arousal"]),
        (["--fps", "29"], ["unsupported fps 29"]),
        (["--formats", "livelink,fbx"], ["unknown export format", "fbx", "valid formats"]),
    ],
)
def test_bad_options(tmp_path, capsys, args, fragments):
    code = run_cli(["rig", "--text", "Hi.", "-o", tmp_path / "o", "--no-preview", *args])
    assert_one_line_error(capsys, code, *fragments)
    assert not list((tmp_path / "o").glob("*.csv")) if (tmp_path / "o").exists() else True


def test_unwritable_output_leaves_nothing(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    code = run_cli(["rig", "--text", "Hi.", "-o", blocker / "out", "--no-preview"])
    assert_one_line_error(capsys, code, "blocker")


def test_nothing_to_animate(capsys):
    code = run_cli(["rig"])
    assert_one_line_error(capsys, code, "give a speech file, or --text")
