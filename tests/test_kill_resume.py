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


def _run_and_kill(args: list[str], after_s: float) -> int | None:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        process.wait(timeout=after_s)
        return process.returncode  # finished before the kill
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None


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
    killed = 0
    for after in rng.uniform(1.0, 6.0, 2):
        if _run_and_kill(_talk(short_speech, out), after) is None:
            killed += 1
            assert not out.exists(), f"a run killed after {after:.1f} s left {out.name}"
    assert killed >= 1
    done = subprocess.run(_talk(short_speech, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert abs(_frames(out) - 2.5 * 25) <= 1  # a whole, decodable video
    assert [p.name for p in tmp_path.iterdir()] == ["talk.mp4"]  # the killed runs' temporaries are gone


def test_a_killed_rerun_keeps_the_earlier_video(tmp_path, short_speech):
    out = tmp_path / "talk.mp4"
    assert subprocess.run(_talk(short_speech, out), capture_output=True, timeout=300).returncode == 0
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    # wait until the rerun is rendering (its temporary file appears), then kill it
    process = subprocess.Popen(
        _talk(short_speech, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".talk.mp4.*.part*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: its phone-decoder workers too
    process.wait()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    assert abs(_frames(out) - 2.5 * 25) <= 1
