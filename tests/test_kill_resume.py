"""`affect-studio talk` killed (SIGKILL) at random moments: the output is never half-written, an earlier
good video survives a killed rerun untouched, and the next run completes and cleans what the killed
ones left. (`synth`'s kill-and-resume is in test_synth.py.)"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from recognition.video import iter_frames
from rigs.assets import sample_path

CLI = [sys.executable, "-c", "from studio.cli import main; main()"]


def _talk(audio: Path, out: Path) -> list[str]:
    portrait = str(sample_path("portrait.png"))
    return [*CLI, "talk", portrait, str(audio), "--resolution", "256", "--no-score", "-o", str(out)]


def _kill_while_writing(args: list[str], folder: Path, extra_s: float = 0.0) -> None:
    """Start `args`, wait until its temporary output file appears in `folder` (it is rendering; the name
    carries its pid, so a killed run's leftover does not count), wait `extra_s` more, and SIGKILL its whole
    process group (its phone-decoder workers too) while it still runs."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(folder.glob(f".*.{process.pid}.*.part*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(extra_s)
    running = process.poll() is None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert running, f"the run ended (exit {process.returncode}) before it could be killed while writing"


def _frames(video: Path) -> int:
    return sum(1 for _ in iter_frames(video))


@pytest.fixture(scope="module")
def short_speech(tmp_path_factory) -> Path:
    samples, rate = sf.read(sample_path("speech.wav"), dtype="float32")
    path = tmp_path_factory.mktemp("speech") / "line.wav"
    sf.write(path, samples[: int(2.5 * rate)], rate)
    return path


def test_killed_talk_runs_leave_no_partial_output(tmp_path, short_speech):
    out = tmp_path / "talk.mp4"
    rng = np.random.default_rng(7)
    for extra in rng.uniform(0.0, 0.4, 2):  # killed at random moments while the video is being written
        _kill_while_writing(_talk(short_speech, out), tmp_path, extra)
        assert not out.exists(), f"a run killed {extra:.2f} s into writing left {out.name}"
    done = subprocess.run(_talk(short_speech, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert abs(_frames(out) - 2.5 * 25) <= 1  # a whole, decodable video
    assert [p.name for p in tmp_path.iterdir()] == ["talk.mp4"]  # the killed runs' temporaries are gone


def test_a_killed_rerun_keeps_the_earlier_video(tmp_path, short_speech):
    out = tmp_path / "talk.mp4"
    assert subprocess.run(_talk(short_speech, out), capture_output=True, timeout=300).returncode == 0
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    _kill_while_writing(_talk(short_speech, out), tmp_path)  # the rerun, killed while rendering
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    assert abs(_frames(out) - 2.5 * 25) <= 1
